"""p8j.journal.cache: derived, rebuildable caches (listing catalog, snapshots).

Never needed for correctness: any failure to read, decode, encode or write a
cache falls back to the logs.
"""

__all__: list[str] = []
