"""Ctrl-C ends `p8j tail` with exit 0 and nothing on stderr, wherever the interrupt lands.

In-process (CliRunner) with the interrupt raised by a stand-in follower; the real SIGINT,
at every bytecode of the polling sleep, is tests/hardening/test_tail_fallback.py's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from p8j.cli import tail as tail_module
from p8j.cli.main import cli
from p8j.journal import Home


def _broken_wait() -> None:
    """What threading.Condition.wait did when Ctrl-C landed between two of its bytecodes."""
    try:
        raise KeyboardInterrupt
    finally:
        raise RuntimeError("release unlocked lock")  # in place of the interrupt


class _Follower:
    """Yields nothing, then fails as `failure` says."""

    failure: str = ""

    def __init__(self, *args: object, **kw: object) -> None:
        pass

    def __iter__(self) -> Iterator[object]:
        if self.failure == "interrupt":
            raise KeyboardInterrupt
        if self.failure == "broken-by-interrupt":
            _broken_wait()
        if self.failure == "bug":
            raise RuntimeError("a bug, not an interrupt")
        return iter(())


@pytest.fixture
def follower(monkeypatch: pytest.MonkeyPatch, p8j_home: Home) -> type[_Follower]:
    p8j_home.ensure()
    monkeypatch.setattr(tail_module, "Follower", _Follower)
    return _Follower


@pytest.mark.parametrize("failure", ["interrupt", "broken-by-interrupt"])
def test_ctrl_c_while_following_exits_0_quietly(
    runner: CliRunner, follower: type[_Follower], failure: str
) -> None:
    follower.failure = failure
    result = runner.invoke(cli, ["tail", "--json"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_an_error_not_caused_by_ctrl_c_still_fails(
    runner: CliRunner, follower: type[_Follower]
) -> None:
    follower.failure = "bug"
    result = runner.invoke(cli, ["tail", "--json"])
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)


def test_ctrl_c_while_starting_exits_0_quietly(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, p8j_home: Home
) -> None:
    def interrupted(*args: object) -> str:
        raise KeyboardInterrupt

    p8j_home.ensure()
    monkeypatch.setattr(tail_module, "resolve_in", interrupted)
    result = runner.invoke(cli, ["tail", "latest"])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
