"""The `p8j` command group."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="p8j", prog_name="p8j")
def cli() -> None:
    """p8j: an append-only session journal for AI coding agents."""


def main() -> None:
    """Console-script entry point."""
    cli()
