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
