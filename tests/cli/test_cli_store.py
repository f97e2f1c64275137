"""`p8j store check` / `p8j store init` against a real nats-server."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import nats
import pytest
from click.testing import CliRunner
from natsd import NatsServer

from p8j.cli.main import cli
from p8j.journal.store.nats.config import NatsConfig


def _make_risky_stream(url: str) -> None:
    """A stream made by hand with every risky setting."""
    cfg = NatsConfig.parse(url)

    async def run() -> None:
        nc = await nats.connect(list(cfg.servers))
        js = nc.jetstream()
        await js.add_stream(
            name=cfg.stream,
            subjects=[cfg.subjects],
            discard=nats.js.api.DiscardPolicy.OLD,
            max_age=3600,
            duplicate_window=1,
            deny_delete=False,
            allow_direct=False,
        )
        await nc.close()

    asyncio.run(run())


def test_check_then_init_then_check_is_clean_but_for_r1(
    runner: CliRunner, nats_url: str, natsd: NatsServer
) -> None:
    monitor = f"http://127.0.0.1:{natsd.monitor}"
    before = runner.invoke(cli, ["store", "check", "--store", nats_url, "--json"])
    assert before.exit_code == 1, before.output
    report = msgspec.json.decode(before.output)
    assert report["stream"] is None and not any(report["buckets"].values())
    assert any("unknown" in w for w in report["warnings"])  # no monitor: sync unknown
    init = runner.invoke(cli, ["store", "init", "--store", nats_url, "--json"])
    assert init.exit_code == 0, init.output
    created = msgspec.json.decode(init.output)["created"]
    assert len(created) == 4
    again = runner.invoke(cli, ["store", "init", "--store", nats_url, "--json"])
    assert msgspec.json.decode(again.output)["created"] == []  # idempotent
    assert msgspec.json.decode(again.output)["updated"] == []
    after = runner.invoke(cli, ["store", "check", "--store", nats_url, "--monitor", monitor])
    assert after.exit_code == 1  # one warning left: a single replica
    assert "sync" in after.output and "always" in after.output
    warnings = [line for line in after.output.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1 and "1 replica" in warnings[0], after.output


def test_check_names_every_risky_setting_and_init_fixes_them(
    runner: CliRunner, nats_url: str, natsd: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_risky_stream(nats_url)
    monkeypatch.setenv("P8J_STORE", f"{nats_url}&monitor=http://127.0.0.1:{natsd.monitor}")
    out = runner.invoke(cli, ["store", "check", "--json"])
    warnings = " | ".join(msgspec.json.decode(out.output)["warnings"])
    assert not any(msgspec.json.decode(out.output)["buckets"].values())  # check created none
    risky = ("discard old", "max_age", "duplicate window", "deny_delete", "allow_direct")
    for words in (*risky, "allow_atomic"):
        assert words in warnings, warnings
    assert "sync" not in warnings  # the test server syncs always
    fixed = runner.invoke(cli, ["store", "init", "--json"])
    assert fixed.exit_code == 0, fixed.output
    updated = msgspec.json.decode(fixed.output)["updated"]
    fields = {"discard", "max_age", "duplicate_window", "deny_delete", "allow_direct"}
    assert fields | {"allow_atomic"} <= set(updated)
    out = runner.invoke(cli, ["store", "check", "--json"])
    assert [w for w in msgspec.json.decode(out.output)["warnings"] if "replica" not in w] == []


def test_store_commands_need_a_nats_url(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(cli, ["store", "check", "--store", "/some/path"])
    assert result.exit_code == 2 and "nats://" in result.output
    assert "--store is '/some/path'" in result.stderr
    monkeypatch.delenv("P8J_STORE", raising=False)
    bare = runner.invoke(cli, ["store", "check"])  # it said "($P8J_STORE is 'not set')"
    assert bare.exit_code == 2
    assert bare.stderr.startswith(
        "p8j: p8j store needs a nats://host:port store: give --store nats://HOST:4222 "
        "or set $P8J_STORE"
    )


def test_an_unreachable_server_is_one_line_exit_1(runner: CliRunner) -> None:
    from natsd import free_port

    result = runner.invoke(cli, ["store", "check", "--store", f"nats://127.0.0.1:{free_port()}"])
    assert result.exit_code == 1
    assert (
        result.output.startswith("p8j: cannot connect to NATS") and result.output.count("\n") == 1
    )


def _interrupted_rewrite(url: str, step: str) -> str:
    """A session whose rewrite died: after 2 of 4 publishes (uncommitted), or before the purge."""
    from child_writer import redacted

    from p8j.journal import JournalIOError, SessionManager
    from p8j.journal.store.nats import NatsStore

    with NatsStore(url) as store:
        mgr = SessionManager(store=store, redact=False)
        sid = mgr.start_session("secrets").session_id
        mgr.record_message({"role": "user", "content": "secret 1"})
        mgr.record_message({"role": "user", "content": "secret 2"})
        mgr.pause_session()
        records = redacted(store.open_cursor(sid).read())
        conn = store.call(store.aconn())
        real_publish, calls = conn.publish, 0

        async def dying_publish(*args: Any, **kw: Any) -> int:
            nonlocal calls
            calls += 1
            if calls > 2:
                raise JournalIOError("injected: the connection is gone")
            return await real_publish(*args, **kw)

        async def dying_purge(*args: Any, **kw: Any) -> None:
            raise JournalIOError("injected: the connection is gone")

        if step == "uncommitted":
            conn.publish = dying_publish  # type: ignore[method-assign]
        else:
            conn.purge = dying_purge  # type: ignore[method-assign]
        with pytest.raises(JournalIOError, match="injected"):
            store.rewrite(sid, records)
    return sid


@pytest.mark.parametrize("state", ["uncommitted", "unpurged"])
def test_check_reports_an_interrupted_rewrite_and_repair_clears_it(
    runner: CliRunner, nats_url: str, state: str
) -> None:
    sid = _interrupted_rewrite(nats_url, state)
    out = runner.invoke(cli, ["store", "check", "--store", nats_url, "--json"])
    assert out.exit_code == 1, out.output
    report = msgspec.json.decode(out.output)
    [left] = report["interrupted"]
    assert left["session_id"] == sid and left["state"] == state
    assert not left["held"] and not left["repaired"]
    [warning] = [w for w in report["warnings"] if sid in w]
    assert "--repair" in warning and ("old log" if state == "uncommitted" else "new log") in warning
    text = runner.invoke(cli, ["store", "check", "--store", nats_url])
    assert f"session {sid}: an interrupted rewrite left {state} records" in text.output
    fixed = runner.invoke(cli, ["store", "check", "--store", nats_url, "--repair"])
    assert f"repaired   session {sid}" in fixed.output, fixed.output
    assert sid not in "".join(line for line in fixed.output.splitlines() if "warning" in line)
    after = runner.invoke(cli, ["store", "check", "--store", nats_url, "--json"])
    assert msgspec.json.decode(after.output)["interrupted"] == []
    assert not any(sid in w for w in msgspec.json.decode(after.output)["warnings"])
    shown = runner.invoke(cli, ["replay", sid, "--store", nats_url, "--json"])
    assert shown.exit_code == 0, shown.output
    assert ("secret 2" in shown.output) == (state == "uncommitted")  # old log, or the new one


def test_check_leaves_a_held_session_to_its_holder(runner: CliRunner, nats_url: str) -> None:
    from p8j.journal.store.nats import NatsStore

    sid = _interrupted_rewrite(nats_url, "uncommitted")
    with NatsStore(nats_url) as store:
        lease = store._acquire(sid)  # a rewriter still at work (or dead under its lease)
        try:
            out = runner.invoke(cli, ["store", "check", "--store", nats_url, "--repair", "--json"])
        finally:
            store.release(lease)
    [left] = msgspec.json.decode(out.output)["interrupted"]
    assert left["held"] and not left["repaired"]
    assert any(
        sid in w and "check again later" in w for w in msgspec.json.decode(out.output)["warnings"]
    )
