"""The README's examples run, and its set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("P8J_HOME", str(tmp_path / "home"))
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    assert (tmp_path / "home" / "sessions").is_dir()


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples_run_after_the_demo(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Set-up as the README says (`p8j demo`), then an example in the same default home."""
    from p8j.cli.demo_sessions import record_demo_sessions
    from p8j.journal import Home

    monkeypatch.setenv("P8J_HOME", str(tmp_path / "home"))
    record_demo_sessions(Home(tmp_path / "home"))  # sessions started this very minute
    code = _blocks("python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})


def test_ci_runs_the_readme_test_command() -> None:
    sh = _blocks("sh")
    test_cmd = next(b.strip() for b in sh if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_cmd in ci.splitlines()


def test_main_job_command_is_documented() -> None:
    assert any(b.strip() == "pip install . && p8j demo" for b in _blocks("sh"))


def test_every_cli_command_is_in_the_readme() -> None:
    from p8j.cli.main import cli

    names = sorted(getattr(cli, "commands", {}))
    missing = [n for n in names if f"p8j {n}" not in README]
    assert not missing, f"commands missing from README.md: {missing}"


def test_the_crc_recipe_is_one_and_checks_the_example_line() -> None:
    import zlib

    recipes = set(re.findall(r"line\[:-(\d+)\] \+ \"\}\"", README))
    assert recipes == {"18"}, recipes  # it said both [:-18] and [:-19]
    example = next(b for b in _blocks("json") if '"crc"' in b).strip()
    crc = re.search(r'"crc":"([0-9a-f]{8})"', example)
    assert crc is not None
    assert f"{zlib.crc32((example[:-18] + '}').encode()):08x}" == crc.group(1)


def test_every_verify_issue_kind_and_shared_option_is_documented() -> None:
    from typing import get_args

    from p8j.cli.options import SHARED_OPTIONS, shared_option
    from p8j.journal.store.fs.cursor import IssueKind

    for kind in (*get_args(IssueKind), "empty", "unreadable"):
        assert f"`{kind}`" in README, kind
    for name in SHARED_OPTIONS:
        assert f"`{shared_option(name).opts[0]}" in README, name
    for what in ("`scan --json`", "`redact --json`", "`latest`: the most recently active session"):
        assert what in README, what
