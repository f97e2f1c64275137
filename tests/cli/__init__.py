"""Tests of the p8j command line (p8j.cli)."""
