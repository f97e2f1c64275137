"""`scan_session` (scan.py) and the `p8j scan`/`p8j redact` commands: secrets in old logs."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from fakes import FAKES, leaky_session

from p8j.cli.main import cli
from p8j.journal import (
    Home,
    SessionManager,
)
from p8j.journal.secrets.scan import scan_session


def test_scan_finds_secrets_with_where_and_which_rule(home: Home) -> None:
    sid = leaky_session(home)
    report = scan_session(home, sid)
    found = [(f.line, f.seq, f.field, f.rules) for f in report.findings]
    assert found == [
        (1, 0, "metadata.db_password", ["secret-field"]),
        (2, 1, "content", ["github-token"]),
        (4, 3, "output", ["stripe-key"]),
        # The first 20 characters alone are no key; the rest, read after them, is.
        (6, 5, "content", ["anthropic-api-key"]),
    ]
    for f in report.findings:
        assert "[REDACTED:" in f.preview
        for secret in (FAKES.github, FAKES.stripe, "hunter2", FAKES.anthropic[20:]):
            assert secret not in f.preview


def test_cli_scan_and_redact(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P8J_HOME", str(home.path))
    sid = leaky_session(home)
    with SessionManager(home) as mgr:
        clean = mgr.start_session("clean").session_id
        mgr.record_message({"role": "user", "content": "hello"})
    runner = CliRunner()
    result = runner.invoke(cli, ["scan"])
    assert result.exit_code == 1, result.output
    assert "github-token" in result.output and "redact" in result.output
    assert FAKES.github not in result.output
    result = runner.invoke(cli, ["scan", clean])
    assert result.exit_code == 0 and "no secrets found" in result.output
    result = runner.invoke(cli, ["scan", "--json", sid[:13]])
    assert result.exit_code == 1
    (report,) = json.loads(result.output)
    assert report["session_id"] == sid and len(report["findings"]) == 4
    result = runner.invoke(cli, ["redact", sid[:13]])
    assert result.exit_code == 0, result.output
    assert "rewrote 4 of 8 line(s)" in result.output
    result = runner.invoke(cli, ["redact", "--json", sid])
    assert result.exit_code == 0
    assert json.loads(result.output)["changed_lines"] == 0
    result = runner.invoke(cli, ["redact", sid])
    assert "no secrets found" in result.output
    assert runner.invoke(cli, ["scan"]).exit_code == 0
    result = runner.invoke(cli, ["redact"])
    assert result.exit_code == 2  # usage: the id is required
    result = runner.invoke(cli, ["redact", "0" * 8])
    assert result.exit_code == 1 and "no session matches" in result.output


def test_redact_help_and_scan_help_exist() -> None:
    runner = CliRunner()
    for cmd in ("scan", "redact"):
        result = runner.invoke(cli, [cmd, "--help"])
        assert result.exit_code == 0 and "--json" in result.output


def test_scan_reports_an_unsafe_log_and_goes_on_with_the_others(home: Home) -> None:
    leaky = leaky_session(home)
    with SessionManager(home, redact=False) as mgr:
        fifo_sid = mgr.start_session("doomed").session_id
    fifo = home.log_path(fifo_sid)
    fifo.unlink()
    os.mkfifo(fifo)
    result = CliRunner().invoke(cli, ["--home", str(home.path), "scan", "--json"])
    assert result.exit_code == 1
    assert f"cannot scan {fifo_sid}" in result.stderr
    assert "not a regular file" in result.stderr
    reports = json.loads(result.stdout)
    assert [r["session_id"] for r in reports] == [leaky]
    assert reports[0]["findings"]
