"""p8j.journal.store.fs: the file-system store (one JSONL log per session in a home).

Modules: `layout` (the home's folders and safe opens), `writer` (the append path),
`cursor` (the verifying reader), `lock` (one writer per session), `blobs` (large
payloads), `syscalls` (the injectable write-path system calls).
"""

__all__: list[str] = []
