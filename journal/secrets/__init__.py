"""p8j.journal.secrets: write-time redaction, scanning and rewriting logs that hold secrets."""

__all__: list[str] = []
