"""p8j.journal.store: where events are kept, behind one seam.

Backends live beside each other: `fs` (the journal files, the default). A store
knows nothing of caches, secrets or the SessionManager.
"""

__all__: list[str] = []
