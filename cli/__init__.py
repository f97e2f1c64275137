"""p8j.cli: the `p8j` command line; it parses, calls the library and renders."""

__all__: list[str] = []
