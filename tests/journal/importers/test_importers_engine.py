"""The import engine with tiny fake importers: identity, increments, lifecycle, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fake_importers import CLAUDE_LIKE, CODEX_LIKE

from p8j.journal import Home
from p8j.journal.cache.catalog import list_summaries
from p8j.journal.events import (
    MessageRecorded,
    RecordImported,
    SessionPaused,
    SessionResumed,
    SessionStarted,
)
from p8j.journal.importers import engine, sources
from p8j.journal.importers.engine import import_path
from p8j.journal.recording import open_for_append
from p8j.journal.store.fs.store import FileStore
from p8j.journal.timefmt import now_ts, parse_ts


def rec(i: int, text: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Claude-shaped user/assistant record number `i`."""
    role = "user" if i % 2 == 0 else "assistant"
    return {
        "type": role,
        "uuid": f"u{i}",
        "parentUuid": f"u{i - 1}" if i else None,
        "timestamp": f"2026-01-02T03:04:{i % 60:02d}.000Z",
        "sessionId": "s1",
        "message": {"role": role, "content": text if text is not None else f"message {i}"},
        **extra,
    }


def write(path: Path, records: list[Any], mode: str = "w") -> None:
    """Write records one JSON per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")


def events_of(home: Path, sid: str) -> list[Any]:
    """Every event of `sid`, blobs resolved."""
    return list(FileStore(home).open_cursor(sid).read())


def source_lines(path: Path) -> list[Any]:
    """The source file's records (blank lines dropped)."""
    return [json.loads(x) for x in path.read_text().split("\n") if x.strip()]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A source tree with one 6-record session."""
    root = tmp_path / "src" / "proj"
    write(root / "s1.jsonl", [rec(i) for i in range(6)])
    return tmp_path / "src"


def test_import_maps_every_line_and_native_rebuilds_it(src: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    report = import_path(CLAUDE_LIKE, src, home=home)
    assert report.ok and report.sessions_new == 1 and report.events == 6
    assert report.records == {"MessageRecorded": 6}
    (sid,) = FileStore(home).session_ids()
    events = events_of(home, sid)
    assert isinstance(events[0], SessionStarted)
    assert events[0].source is not None and events[0].source.source_id == "s1"
    assert isinstance(events[-1], SessionPaused) and events[-1].reason == "import"
    assert list(CLAUDE_LIKE.native(events)) == source_lines(src / "proj" / "s1.jsonl")
    (summary,) = list_summaries(Home(home))
    assert summary.status == "paused"  # never shown as crashed


def test_second_import_adds_only_new_lines_to_the_same_session(src: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    import_path(CLAUDE_LIKE, src, home=home)
    again = import_path(CLAUDE_LIKE, src, home=home)
    assert again.events == 0 and again.sessions_unchanged == 1 and again.sessions_new == 0
    write(src / "proj" / "s1.jsonl", [rec(6), rec(7)], "a")
    grown = import_path(CLAUDE_LIKE, src, home=home)
    assert grown.events == 2 and grown.sessions_updated == 1
    (sid,) = FileStore(home).session_ids()
    events = events_of(home, sid)
    types = [type(e).__name__ for e in events]
    assert types.count("SessionResumed") == 1 and types.count("SessionPaused") == 2
    resumed = next(e for e in events if isinstance(e, SessionResumed))
    assert resumed.reason == "import" and not resumed.recovered
    assert list(CLAUDE_LIKE.native(events)) == source_lines(src / "proj" / "s1.jsonl")


def test_same_source_gets_the_same_id_in_two_homes(src: Path, tmp_path: Path) -> None:
    import_path(CLAUDE_LIKE, src, home=tmp_path / "a")
    import_path(CLAUDE_LIKE, src, home=tmp_path / "b")
    ids_a, ids_b = FileStore(tmp_path / "a").session_ids(), FileStore(tmp_path / "b").session_ids()
    assert ids_a == ids_b
    # UUIDv7-shaped, with the first source time's milliseconds in front.
    ms = int(parse_ts("2026-01-02T03:04:00Z").timestamp() * 1000)
    assert ids_a[0][14] == "7" and ids_a[0].replace("-", "").startswith(f"{ms:012x}")


def test_past_imports_are_found_by_source_not_by_derived_id(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    import_path(CLAUDE_LIKE, src, home=home)
    monkeypatch.setattr(engine, "derive_id", lambda *a: "019b0000-0000-7000-8000-000000000000")
    write(src / "proj" / "s1.jsonl", [rec(6)], "a")
    report = import_path(CLAUDE_LIKE, src, home=home)
    assert report.sessions_updated == 1 and report.sessions_new == 0
    assert len(FileStore(home).session_ids()) == 1


def test_sub_agents_are_children_of_their_parent(src: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(src / "proj" / "s1" / "subagents" / "agent-7.jsonl", [rec(0, "sub task")])
    side = rec(6, "inline side", isSidechain=True, agentId="a9")
    write(src / "proj" / "s1.jsonl", [side], "a")
    report = import_path(CLAUDE_LIKE, src, home=home)
    assert report.ok and report.sessions_new == 3
    starts = {}
    for sid in FileStore(home).session_ids():
        start = events_of(home, sid)[0]
        assert start.source is not None
        starts[start.source.source_id] = start
    main = starts["s1"].session_id
    assert starts["agent-7"].parent_id == main and starts["a9"].parent_id == main
    # The inline one is found again as the main file's: nothing is duplicated.
    write(src / "proj" / "s1.jsonl", [rec(7, "more side", isSidechain=True, agentId="a9")], "a")
    again = import_path(CLAUDE_LIKE, src, home=home)
    assert again.events == 1 and again.sessions_new == 0
    a9 = [e for e in events_of(home, starts["a9"].session_id) if isinstance(e, MessageRecorded)]
    assert [e.content for e in a9] == ["inline side", "more side"]


def test_bad_lines_are_reported_with_file_and_line_and_the_rest_imported(tmp_path: Path) -> None:
    root = tmp_path / "src"
    bad = root / "p" / "bad.jsonl"
    write(bad, [rec(0), "{not json", "[1, 2]", "", rec(1), {"type": "progress", "n": 1}])
    with bad.open("a") as f:
        f.write(json.dumps(rec(2))[:20])  # a truncated last line
    (root / "p" / "empty.jsonl").write_bytes(b"")
    report = import_path(CLAUDE_LIKE, root, home=tmp_path / "home")
    assert not report.ok
    where = [(Path(s.path).name, s.line) for s in report.skipped]
    assert where == [("bad.jsonl", 2), ("bad.jsonl", 3), ("bad.jsonl", 7)]
    assert "malformed JSON" in report.skipped[0].reason
    assert "incomplete last line" in report.skipped[2].reason
    assert report.records == {"MessageRecorded": 2, "RecordImported": 1}
    assert report.kept_raw == {"progress": 1}
    assert report.sessions_new == 1  # the empty file makes no session


def test_dry_run_writes_nothing(src: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    report = import_path(CLAUDE_LIKE, src, home=home, dry_run=True)
    assert report.dry_run and report.events == 6 and report.sessions_new == 1
    assert not (home / "sessions").exists() or not FileStore(home).session_ids()


def test_secrets_are_redacted_like_recorded_ones(tmp_path: Path) -> None:
    root = tmp_path / "src"
    token = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
    write(root / "p" / "s.jsonl", [rec(0, f"my token {token}", cwd=f"/x/{token}")])
    home = tmp_path / "home"
    import_path(CLAUDE_LIKE, root, home=home)
    raw = b"".join((home / "sessions").glob("*.jsonl").__next__().read_bytes().split(b"\n"))
    assert token.encode() not in raw
    (sid,) = FileStore(home).session_ids()
    msg = next(e for e in events_of(home, sid) if isinstance(e, MessageRecorded))
    assert msg.redactions == ["github-token"]
    assert msg.origin is not None and "REDACTED" in msg.origin.rest["cwd"]


def test_large_payloads_go_to_blobs_and_come_back(tmp_path: Path) -> None:
    root = tmp_path / "src"
    big = "x" * 300_000
    records = [rec(0, big), {"type": "progress", "data": big}, rec(1, "ok", toolUseResult=big)]
    write(root / "p" / "s.jsonl", records)
    home = tmp_path / "home"
    report = import_path(CLAUDE_LIKE, root, home=home, redact=False)
    assert report.ok
    log = next((home / "sessions").glob("*.jsonl"))
    assert log.stat().st_size < 20_000  # the three big values live in blobs
    (sid,) = FileStore(home).session_ids()
    assert list(CLAUDE_LIKE.native(events_of(home, sid))) == records


def test_codex_shape_and_unknown_record_types(tmp_path: Path) -> None:
    root = tmp_path / "src"
    lines = [
        {"timestamp": "2026-01-01T00:00:00Z", "type": "session_meta", "payload": {"id": "c1"}},
        {
            "timestamp": "2026-01-01T00:00:01Z",
            "type": "response_item",
            "payload": {"type": "message", "role": "user", "content": [{"text": "hi"}]},
        },
        {"timestamp": "2026-01-01T00:00:02Z", "type": "brand_new_type", "payload": {}},
    ]
    write(root / "r.jsonl", lines)
    home = tmp_path / "home"
    report = import_path(CODEX_LIKE, root, home=home)
    assert report.kept_raw == {"session_meta": 1, "brand_new_type": 1}
    (sid,) = FileStore(home).session_ids()
    events = events_of(home, sid)
    raw = [e for e in events if isinstance(e, RecordImported)]
    assert [e.kind for e in raw] == ["session_meta", "brand_new_type"]
    assert list(CODEX_LIKE.native(events)) == lines


def test_derive_id_is_deterministic_and_time_ordered() -> None:
    a = sources.derive_id(("claude", "s", ""), "2026-01-01T00:00:00Z")
    assert a == sources.derive_id(("claude", "s", ""), "2026-01-01T00:00:00.000Z")
    assert a != sources.derive_id(("claude", "s2", ""), "2026-01-01T00:00:00Z")
    assert a < sources.derive_id(("claude", "s", ""), "2026-01-01T00:00:01Z")
    assert msgspec.json.decode(msgspec.json.encode(a)) == a


def test_orphan_sub_agent_is_found_again(tmp_path: Path) -> None:
    # Its parent session was never imported: the identity still holds the parent's source id.
    root = tmp_path / "src"
    write(root / "gone" / "subagents" / "agent-1.jsonl", [rec(0, "orphan")])
    home = tmp_path / "home"
    first = import_path(CLAUDE_LIKE, root, home=home)
    assert first.ok and first.sessions_new == 1
    (sid,) = FileStore(home).session_ids()
    start = events_of(home, sid)[0]
    assert start.parent_id is None and start.source.parent_source_id == "gone"
    again = import_path(CLAUDE_LIKE, root, home=home)
    assert again.ok and again.sessions_new == 0 and again.sessions_unchanged == 1


def test_files_found_but_not_importable_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "src"
    write(root / "p" / "s.jsonl", [rec(0)])
    found = CLAUDE_LIKE.discover

    def discover(path: Path) -> Any:
        for f in found(path):
            yield msgspec.structs.replace(f, skipped="compressed: needs zstandard")

    monkeypatch.setattr(CLAUDE_LIKE, "discover", discover)
    report = import_path(CLAUDE_LIKE, root, home=tmp_path / "home")
    assert [(s.line, s.reason) for s in report.skipped] == [(0, "compressed: needs zstandard")]
    assert report.events == 0


def test_compressed_codex_rollouts_are_decompressed(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "codex"
    (source,) = fixture.glob("rollout-*.jsonl")
    root = tmp_path / "sessions" / "2026" / "01" / "22"
    root.mkdir(parents=True)
    packed = root / (source.name + ".zst")
    packed.write_bytes(zstandard.ZstdCompressor().compress(source.read_bytes()))
    home = tmp_path / "home"
    report = import_path("codex", tmp_path / "sessions", home=home, redact=False)
    assert report.ok and report.sessions_new == 1
    (sid,) = FileStore(home).session_ids()
    from p8j.journal.importers.registry import get_importer

    native = list(get_importer("codex").native(events_of(home, sid)))
    assert native == source_lines(source)


def test_a_session_a_killed_pass_left_open_is_paused_again(src: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    import_path(CLAUDE_LIKE, src, home=home)
    store = FileStore(home)
    (sid,) = store.session_ids()
    # A pass killed after its last record: resumed, nothing new, never paused.
    writer, session, _ = open_for_append(store, sid, None, {})
    writer.append(SessionResumed(1, sid, session.last_seq + 1, now_ts(), reason="import"))
    writer.close()
    assert list_summaries(Home(home))[0].status == "active"
    report = import_path(CLAUDE_LIKE, src, home=home)
    assert report.ok and report.events == 0
    assert list_summaries(Home(home))[0].status == "paused"
    *_, resumed, paused = events_of(home, sid)
    assert isinstance(resumed, SessionResumed) and resumed.recovered
    assert isinstance(paused, SessionPaused) and paused.reason == "import"


def test_following_reads_only_the_tail_with_whole_file_offsets(
    src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    run = engine.ImportRun(CLAUDE_LIKE, FileStore(home))
    (file,) = run.discover([src])
    offsets: list[int] = []
    real = sources.read_source

    def spy(f: Any, offset: int = 0) -> bytes:
        offsets.append(offset)
        return real(f, offset)

    monkeypatch.setattr(engine, "read_source", spy)
    size = Path(file.path).stat().st_size
    assert run.run_file(file, final=False) == 6
    write(src / "proj" / "s1.jsonl", [rec(6), rec(7)], "a")
    assert run.run_file(file, final=False) == 2
    assert offsets == [0, size]
    (sid,) = FileStore(home).session_ids()
    ends = [e.origin.end for e in events_of(home, sid) if getattr(e, "origin", None)]
    data = Path(file.path).read_bytes()
    assert ends[1:] == [i + 1 for i, b in enumerate(data) if b == 0x0A]
    assert import_path(CLAUDE_LIKE, src, home=home).events == 0


def test_following_reports_a_bad_line_once(tmp_path: Path) -> None:
    root = tmp_path / "src"
    bad = root / "p" / "s.jsonl"
    write(bad, ["{oops"])
    run = engine.ImportRun(CLAUDE_LIKE, FileStore(tmp_path / "home"))
    (file,) = run.discover([root])
    run.run_file(file, final=False)
    write(bad, [rec(0)], "a")
    run.run_file(file, final=False)
    assert [(s.line, s.reason[:9]) for s in run.report.skipped] == [(1, "malformed")]
    assert run.report.events == 1


def test_a_raw_record_over_the_cap_of_medium_strings_is_one_blob(tmp_path: Path) -> None:
    # Each string under the blob threshold, together over the 1 MiB record cap.
    record = {"type": "progress", "parts": [f"{i}" * 200_000 for i in range(8)]}
    write(tmp_path / "src" / "p" / "s.jsonl", [record])
    home = tmp_path / "home"
    report = import_path(CLAUDE_LIKE, tmp_path / "src", home=home, redact=False)
    assert report.ok and report.kept_raw == {"progress": 1}
    (sid,) = FileStore(home).session_ids()
    assert list(CLAUDE_LIKE.native(events_of(home, sid))) == [record]
    assert next((home / "sessions").glob("*.jsonl")).stat().st_size < 10_000


def test_the_index_of_past_imports_reads_only_the_head_of_each_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    write(tmp_path / "src" / "s1.jsonl", [rec(i, f"{i} " + "words " * 8000) for i in range(40)])
    import_path(CLAUDE_LIKE, tmp_path / "src", home=home)
    (sid,) = FileStore(home).session_ids()
    assert (home / "sessions" / f"{sid}.jsonl").stat().st_size > 1 << 20
    read: list[int] = []
    pread = os.pread

    def counting(fd: int, n: int, offset: int) -> bytes:
        data = pread(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", counting)
    index = sources.SourceIndex(FileStore(home))
    assert index.lookup((CLAUDE_LIKE.agent, "s1", "")) == sid
    assert 0 < sum(read) <= 64 << 10  # its SessionStarted, not a MiB of log


def test_a_source_without_any_time_starts_at_its_files_mtime(tmp_path: Path) -> None:
    # A Claude Code file of `summary` lines only has no record time; its session started
    # at the import's clock (topping `p8j ls` as "active now") while its id was derived
    # from the file's mtime. Both now say the mtime: the source's own time, as the id.
    src = tmp_path / "proj" / "4e27c414-a885-46a0-b5c8-d58e1417377d.jsonl"
    src.parent.mkdir()
    src.write_text('{"type":"summary","summary":"A title","leafUuid":"u-1"}\n')
    when = 1_760_000_000  # 2025-10-09T08:53:20Z
    os.utime(src, (when, when))
    home = tmp_path / "home"
    report = import_path("claude", src, home=home)
    (sid,) = [s.session_id for s in report.sessions]
    (summary,) = list_summaries(Home(home))
    assert summary.start_time == "2025-10-09T08:53:20.000000Z"
    assert summary.last_activity == summary.start_time  # the title and the pause: timeless
    assert sid.startswith(f"{when * 1000:012x}"[:8])  # UUIDv7 of that time, as the start
