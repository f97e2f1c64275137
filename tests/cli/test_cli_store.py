"""`p8j store check` / `p8j store init` against a real nats-server."""

from __future__ import annotations

import asyncio

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
    for words in ("discard old", "max_age", "duplicate window", "deny_delete", "allow_direct"):
        assert words in warnings, warnings
    assert "sync" not in warnings  # the test server syncs always
    fixed = runner.invoke(cli, ["store", "init", "--json"])
    assert fixed.exit_code == 0, fixed.output
    updated = msgspec.json.decode(fixed.output)["updated"]
    assert {"discard", "max_age", "duplicate_window", "deny_delete", "allow_direct"} <= set(updated)
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
