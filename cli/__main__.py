"""``python -m p8j.cli``: the same as the `p8j` command."""

from p8j.cli.main import main

main()
