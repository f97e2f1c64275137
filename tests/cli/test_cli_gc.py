"""`p8j gc`: lists with --dry-run, removes without, says what it freed, --json."""

from __future__ import annotations

import json
import os

from click.testing import CliRunner

from p8j.cli.main import cli
from p8j.journal import Home

from .cli_helpers import record_simple


def test_gc_dry_run_then_collect(runner: CliRunner, p8j_home: Home) -> None:
    sid = record_simple(p8j_home)
    os.unlink(p8j_home.log_path(sid))  # an interrupted rm: the lock file stays
    lock = p8j_home.lock_path(sid)
    dry = runner.invoke(cli, ["gc", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert str(lock) in dry.stdout and dry.stdout.rstrip().endswith("would remove 1 lock")
    assert lock.exists()
    data = json.loads(runner.invoke(cli, ["gc", "--json"]).stdout)
    assert data["dry_run"] is False
    assert [(f["kind"], f["path"]) for f in data["removed"]] == [("lock", str(lock))]
    assert data["bytes_freed"] == data["removed"][0]["size"] > 0
    assert not lock.exists()
    again = runner.invoke(cli, ["gc"])
    assert again.exit_code == 0 and again.stdout == "removed nothing\n"
