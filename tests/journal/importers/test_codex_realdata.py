"""The Codex importer on every real Codex file in ../shared/realdata/codex (skipped if absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest

from p8j.journal.codec import encode_event
from p8j.journal.events import (
    CommandRecorded,
    ExecutionRecorded,
    MessageRecorded,
    Usage,
    UsageRecorded,
)
from p8j.journal.importers.base import Mapped, ReadPoint, SourceFile, rebuild_record
from p8j.journal.importers.codex import HISTORY, IMPORTER, read_source
from p8j.journal.timefmt import format_ts, parse_ts

CODEX = Path(__file__).resolve().parents[3].parent / "shared" / "realdata" / "codex"
FILES = sorted(
    Path(d) / n for d, _, names in os.walk(CODEX) for n in names if n.endswith(".jsonl")
)  # os.walk: the corpus keeps .codex folders, which glob would not enter
ROLLOUTS = [p for p in FILES if p.name != "history.jsonl"]
pytestmark = pytest.mark.skipif(not FILES, reason=f"no real Codex logs at {CODEX}")
IDS = [p.name[-24:] for p in ROLLOUTS]
CALLS = ("function_call", "custom_tool_call", "local_shell_call", "web_search_call")
OUTPUTS = ("function_call_output", "custom_tool_call_output")


def _read(path: Path) -> tuple[SourceFile, bytes, list[Mapped]]:
    (file,) = IMPORTER.discover(path)
    assert file.skipped is None
    data = read_source(file)
    return file, data, list(IMPORTER.read(file, data, ReadPoint()))


def _events(mapped: list[Mapped]) -> list[Any]:
    return [m.event for m in mapped if m.event is not None]


def _records(data: bytes) -> list[Any]:
    return [json.loads(raw) for raw in data.split(b"\n")[:-1] if raw.strip()]


def test_the_corpus_is_all_there() -> None:
    assert len(FILES) == 9  # 8 rollouts and a history.jsonl (SOURCES.tsv)
    found = list(IMPORTER.discover(CODEX))
    assert sorted(Path(f.path) for f in found) == FILES
    assert [Path(f.path).name for f in found if f.skipped] == ["history.jsonl"]
    assert {f.skipped for f in found} == {None, HISTORY}


@pytest.mark.parametrize("path", ROLLOUTS, ids=IDS)
def test_every_line_is_one_event_or_a_reported_skip_and_rebuilds_exactly(path: Path) -> None:
    file, data, mapped = _read(path)
    lines = data.split(b"\n")[:-1]
    events = _events(mapped)
    skipped = [m for m in mapped if m.skipped is not None]
    assert len(events) + len(skipped) == len(mapped) == len(lines)
    assert not [m for m in skipped if m.skipped]  # the corpus has no bad line
    for m, raw in zip(mapped, lines, strict=True):
        if m.event is not None:
            assert rebuild_record(m.event) == json.loads(raw), f"{path}:{m.line}"
    assert list(IMPORTER.native(events)) == _records(data)
    assert file.source.source_id and file.source.agent == "codex"


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    blocks = content if isinstance(content, list) else []
    return [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]


def _walk(records: list[Any]) -> list[tuple[Any, ...]]:
    """The conversation read straight from the source records (not through the importer)."""
    walked: list[tuple[Any, ...]] = []
    said: list[str] = []  # user messages of the history since the last user_message event
    for record in records:
        payload = record.get("payload")
        if record.get("type") == "event_msg" and payload.get("type") == "user_message":
            if payload["message"].strip() not in said:  # not Codex's echo of a prompt
                walked.append(("text", "user", [payload["message"]]))
            said = []
        item = payload if record.get("type") == "response_item" else None
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            walked.append(("text", item["role"], _texts(item.get("content"))))
            if item["role"] == "user":
                said.append("".join(_texts(item.get("content"))).strip())
        elif kind == "reasoning":
            walked.append(("thinking", _texts(item.get("summary")) + _texts(item.get("content"))))
        elif kind in CALLS:
            walked.append(("call", item.get("call_id"), item.get("name", kind.split("_call")[0])))
        elif kind in OUTPUTS:
            walked.append(("result", item["call_id"], item["output"]))
    return walked


def _conversation(events: list[Any]) -> list[tuple[Any, ...]]:
    """The conversation as the imported events show it."""
    shown: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, MessageRecorded):
            content = event.content
            if isinstance(content, dict) and content.get("type") == "reasoning":
                thinking = _texts(content.get("summary")) + _texts(content.get("content"))
                shown.append(("thinking", thinking))
            else:
                shown.append(("text", event.role, _texts(content)))
        elif isinstance(event, CommandRecorded):
            shown.append(("call", event.call_id, event.tool))
        elif isinstance(event, ExecutionRecorded):
            shown.append(("result", event.call_id, event.output or event.result))
    return shown


@pytest.mark.parametrize("path", ROLLOUTS, ids=IDS)
def test_the_conversation_matches_an_independent_walk_of_the_source(path: Path) -> None:
    _, data, mapped = _read(path)
    events = _events(mapped)
    assert _conversation(events) == _walk(_records(data))
    commands = {e.call_id: e.command for e in events if isinstance(e, CommandRecorded)}
    results = [e for e in events if isinstance(e, ExecutionRecorded)]
    for result in results:  # every result shows its call's command (all are paired here)
        assert result.call_id in commands and result.command == commands[result.call_id]
    assert all(commands.values())  # every call shows a command line


def _as_usage(report: dict[str, int]) -> Usage:
    cached = report.get("cached_input_tokens", 0)
    return Usage(
        input_tokens=report["input_tokens"] - cached,
        output_tokens=report["output_tokens"],
        cache_read_tokens=cached,
        reasoning_tokens=report.get("reasoning_output_tokens", 0),
    )


def _sum(usages: list[Usage]) -> Usage:
    fields = ("input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens")
    return Usage(**{f: sum(getattr(u, f) for u in usages) for f in fields})


@pytest.mark.parametrize("path", ROLLOUTS, ids=IDS)
def test_usage_once_per_response_adds_up_to_the_last_cumulative_report(path: Path) -> None:
    _, data, mapped = _read(path)
    reports = [
        r["payload"]["info"]
        for r in _records(data)
        if r.get("type") == "event_msg"
        and r["payload"].get("type") == "token_count"
        and r["payload"].get("info")
    ]
    usage = [e for e in _events(mapped) if isinstance(e, UsageRecorded)]
    assert len(usage) == len(reports)
    once = {e.response_id: e.usage for e in usage}  # the fold's dedup: one per response id
    if not reports:
        return
    if path.name == "turn-2.jsonl":
        # Hand-written: each report's "last" repeats its own total (1036, then 1120), so
        # no sum of per-response usage can equal the final total; one per report is right.
        assert all(r["last_token_usage"] == r["total_token_usage"] for r in reports)
        assert _sum(list(once.values())) == _sum(
            [_as_usage(r["last_token_usage"]) for r in reports]
        )
        return
    # Re-emitted reports (same cumulative total; 4 of these files repeat each one) count once.
    assert len(once) == len({json.dumps(r["total_token_usage"]) for r in reports})
    assert _sum(list(once.values())) == _as_usage(reports[-1]["total_token_usage"])


@pytest.mark.parametrize("path", ROLLOUTS, ids=IDS)
def test_start_event_uses_the_sessions_own_cwd_and_start_time(path: Path) -> None:
    file, data, mapped = _read(path)
    start = IMPORTER.start_event(file, mapped[0])
    meta = _records(data)[0]["payload"]
    cwd = meta.get("cwd")
    if cwd is None:  # 019ce50a: the cwd is only in the <environment_context> message
        assert "<cwd>/Users/mock_user/workspace/history-lab</cwd>" in data.decode()
        cwd = "/Users/mock_user/workspace/history-lab"
    assert (start.cwd, start.project_name) == (cwd, cwd.rsplit("/", 1)[-1])
    assert start.cwd != os.getcwd()
    assert start.origin is not None and start.origin.ts == format_ts(parse_ts(meta["timestamp"]))
    assert start.source == file.source and file.source.format == meta["cli_version"]


def test_a_zstd_copy_imports_like_the_original(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = max(ROLLOUTS, key=lambda p: p.stat().st_size)
    copy = tmp_path / (path.name + ".zst")
    copy.write_bytes(zstandard.ZstdCompressor(level=3).compress(path.read_bytes()))
    (file,) = IMPORTER.discover(copy)
    _, data, mapped = _read(path)
    assert file.compressed == "zstd" and file.source.source_id == _read(path)[0].source.source_id
    assert read_source(file) == data
    assert list(IMPORTER.read(file, read_source(file), ReadPoint())) == mapped


def test_imported_events_take_at_most_1_5x_the_source_bytes() -> None:
    figures = {}
    total_source = total_events = 0
    for path in ROLLOUTS:
        _, data, mapped = _read(path)
        size = sum(
            len(
                encode_event(
                    msgspec.structs.replace(
                        m.event,
                        session_id="019e1625-789d-76c0-80ab-3724b5ddb799",
                        seq=m.line,
                        ts="2026-12-03T18:00:00.000000Z",
                    )
                )
            )
            for m in mapped
            if m.event is not None
        )
        figures[path.name[-24:]] = round(size / len(data), 3)
        total_source += len(data)
        total_events += size
    ratio = total_events / total_source
    print(f"codex corpus: {total_events} event bytes / {total_source} source bytes = {ratio:.3f}")
    print(figures)
    assert ratio <= 1.5, figures
    big = [p.name[-24:] for p in ROLLOUTS if p.stat().st_size > 100_000]
    assert all(figures[name] <= 1.5 for name in big), figures
