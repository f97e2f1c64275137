"""Every argument of the recording API is checked before anything is written.

A wrongly typed argument used to be written and then fail (msgspec encodes what
it is given but decodes by the field's type), leaving a line nothing can read
and a seq the next record reused. Now a bad argument raises InvalidEventError
(InvalidTypeError for a wrong type), the log's bytes stay as they were, and the
session keeps loading. The property test feeds arbitrary values to every public
recording call and then loads the session.
"""

from __future__ import annotations

import decimal
import math
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p8j.journal import (
    Home,
    InvalidEventError,
    InvalidSessionIdError,
    InvalidTypeError,
    P8jError,
    SessionManager,
)
from p8j.replay import load_session
from p8j.replay.export import read_session_events

Call = Callable[[SessionManager], object]


def _log(mgr: SessionManager) -> Path:
    assert mgr.current_session is not None
    return mgr.home.log_path(mgr.current_session.session_id)


def _assert_refused(mgr: SessionManager, call: Call, kind: type[Exception]) -> None:
    """`call` raises `kind` (an InvalidEventError); the log and the session stay as they were."""
    log = _log(mgr)
    before, state = log.read_bytes(), mgr.current_session.to_dict()  # type: ignore[union-attr]
    with pytest.raises(kind) as info:
        call(mgr)
    assert isinstance(info.value, InvalidEventError) and isinstance(info.value, ValueError)
    assert log.read_bytes() == before
    assert mgr.current_session.to_dict() == state  # type: ignore[union-attr]


def _loads_equal(mgr: SessionManager) -> None:
    session = mgr.current_session
    assert session is not None
    assert load_session(session.session_id, mgr.home) == session


# The list, each as (call, error class). InvalidTypeError is also a TypeError.
REFUSED: list[tuple[str, Call, type[Exception]]] = [
    ("exit_code str", lambda m: m.record_execution("make", exit_code="1"), TypeError),  # type: ignore[arg-type]
    ("exit_code float", lambda m: m.record_execution("make", exit_code=1.5), TypeError),  # type: ignore[arg-type]
    ("exit_code bool", lambda m: m.record_execution("make", exit_code=True), TypeError),
    ("cwd int", lambda m: m.record_command("ls", cwd=5), TypeError),  # type: ignore[arg-type]
    ("command int", lambda m: m.record_command(5), TypeError),  # type: ignore[arg-type]
    ("output bytes", lambda m: m.record_execution("x", 0, b"out"), TypeError),  # type: ignore[arg-type]
    ("duration str", lambda m: m.record_execution("x", duration_s="1.2"), TypeError),  # type: ignore[arg-type]
    ("duration bool", lambda m: m.record_execution("x", duration_s=True), TypeError),
    ("duration nan", lambda m: m.record_execution("x", duration_s=math.nan), InvalidEventError),
    ("duration inf", lambda m: m.record_execution("x", duration_s=-math.inf), InvalidEventError),
    (
        "duration huge int",
        lambda m: m.record_execution("x", duration_s=10**400),
        InvalidEventError,
    ),
    (
        "duration sNaN",
        lambda m: m.record_execution("x", duration_s=decimal.Decimal("sNaN")),  # type: ignore[arg-type]
        InvalidEventError,
    ),
    ("started_at int", lambda m: m.record_execution("x", started_at=5), TypeError),  # type: ignore[arg-type]
    (
        "started_at junk",
        lambda m: m.record_execution("x", started_at="yesterday"),
        InvalidEventError,
    ),
    (
        "started_at naive",
        lambda m: m.record_execution("x", started_at=datetime(2026, 1, 1)),
        InvalidEventError,
    ),
    (
        "started_at no offset",
        lambda m: m.record_execution("x", started_at="2026-01-01T10:00:00"),
        InvalidEventError,
    ),
    ("pause reason int", lambda m: m.pause_session(reason=1), TypeError),  # type: ignore[arg-type]
    ("end reason list", lambda m: m.end_session(reason=["a"]), TypeError),  # type: ignore[arg-type]
    ("metadata str", lambda m: m.update_metadata("ab"), TypeError),  # type: ignore[arg-type]
    ("metadata pairs", lambda m: m.update_metadata([("a", 1)]), TypeError),  # type: ignore[arg-type]
    ("metadata int key", lambda m: m.update_metadata({1: "a"}), TypeError),  # type: ignore[dict-item]
    ("message int key", lambda m: m.record_message({"role": "u", 1: "a"}), TypeError),  # type: ignore[dict-item]
    ("message role int", lambda m: m.record_message({"role": 1}), TypeError),
    ("message no role", lambda m: m.record_message({"content": "x"}), InvalidEventError),
    ("message list", lambda m: m.record_message([("role", "u")]), TypeError),  # type: ignore[arg-type]
    ("resume history str", lambda m: m.resume_session("latest", history="3"), TypeError),  # type: ignore[arg-type]
    ("resume history < 0", lambda m: m.resume_session("latest", history=-1), InvalidEventError),
    ("start cwd int", lambda m: m.start_session("p", cwd=5), TypeError),  # type: ignore[arg-type]
    ("start metadata str", lambda m: m.start_session("p", "ab"), TypeError),  # type: ignore[arg-type]
    ("start project bytes", lambda m: m.start_session(b"p"), TypeError),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("call", "kind"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_bad_argument_is_refused_before_anything_is_written(
    mgr: SessionManager, call: Call, kind: type[Exception]
) -> None:
    mgr.start_session("args", {"k": 1})
    mgr.record_command("ls")
    _assert_refused(mgr, call, kind)
    # The next record takes the next seq, and the session still loads as it is in memory.
    assert mgr.record_execution("make", 1, "failed", 0.5) == 2
    _loads_equal(mgr)


def test_accepted_values_are_stored_as_they_read_back(mgr: SessionManager) -> None:
    mgr.start_session("args")
    paris = timezone(timedelta(hours=1))
    # Any finite real number is a duration (typed float: the usual case), stored as a float.
    mgr.record_execution("a", 0, "", decimal.Decimal("1.25"), "2026-01-01T10:00:00+01:00")  # type: ignore[arg-type]
    mgr.record_execution("b", 2**70, "", Fraction(1, 4), datetime(2026, 1, 1, 10, tzinfo=paris))  # type: ignore[arg-type]
    mgr.record_execution("c", -1, "", 3)
    runs = mgr.current_session.execution_histories  # type: ignore[union-attr]
    assert [r["duration_s"] for r in runs] == [1.25, 0.25, 3.0]
    assert all(type(r["duration_s"]) is float for r in runs)
    # Times are stored in p8j's UTC form, like every ts.
    assert runs[0]["started_at"] == runs[1]["started_at"] == "2026-01-01T09:00:00.000000Z"
    assert runs[1]["exit_code"] == 2**70
    _loads_equal(mgr)


BAD_OPTIONS: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"durability": "sometimes"}, InvalidEventError),
    ({"durability": 1}, TypeError),
    ({"max_record_bytes": "1000"}, TypeError),
    ({"max_record_bytes": 0}, InvalidEventError),
    ({"max_record_bytes": True}, TypeError),
    ({"batch_interval_ms": math.nan}, InvalidEventError),
    ({"batch_interval_ms": math.inf}, InvalidEventError),
    ({"batch_interval_ms": 0}, InvalidEventError),
    ({"batch_interval_ms": "50"}, TypeError),
    ({"batch_max_events": 0}, InvalidEventError),
    ({"batch_max_events": 2.0}, TypeError),
    ({"blob_threshold": -1}, InvalidEventError),
    ({"blob_threshold": "big"}, TypeError),
    ({"redact": "no"}, TypeError),
    ({"storage": object()}, TypeError),
    ({"home": 5}, TypeError),
    ({"home": b"/tmp"}, TypeError),
]


@pytest.mark.parametrize(("options", "kind"), BAD_OPTIONS, ids=[str(o) for o, _ in BAD_OPTIONS])
def test_constructor_arguments_are_checked(
    tmp_path: Path, options: dict[str, Any], kind: type[Exception]
) -> None:
    args = {"home": tmp_path / "home", **options}
    with pytest.raises(kind) as info:
        SessionManager(**args)
    assert isinstance(info.value, InvalidEventError)
    assert not (tmp_path / "home").exists()


def test_good_constructor_arguments_still_work(home: Home) -> None:
    with SessionManager(
        home, durability="batch", batch_interval_ms=0.5, blob_threshold=0, redact=False
    ) as mgr:
        mgr.start_session("ok")
        mgr.record_message({"role": "user", "content": "hi"})
        _loads_equal(mgr)


BAD_BOUNDS: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"upto_seq": "3"}, TypeError),
    ({"upto_seq": 1.0}, TypeError),
    ({"upto_seq": -1}, InvalidEventError),
    ({"until": 5}, TypeError),
    ({"until": "noon"}, InvalidEventError),
    ({"until": datetime(2026, 1, 1)}, InvalidEventError),
]


@pytest.mark.parametrize(("bounds", "kind"), BAD_BOUNDS, ids=[str(b) for b, _ in BAD_BOUNDS])
def test_load_and_export_bounds_are_checked(
    mgr: SessionManager, bounds: dict[str, Any], kind: type[Exception]
) -> None:
    sid = mgr.start_session("bounds").session_id
    with pytest.raises(kind) as info:
        load_session(sid, mgr.home, **bounds)
    assert isinstance(info.value, InvalidEventError)
    with pytest.raises(kind):
        read_session_events(mgr.home, sid, **bounds)


def test_load_arguments_are_checked(mgr: SessionManager) -> None:
    sid = mgr.start_session("load").session_id
    bad: list[dict[str, Any]] = [{"history": "2"}, {"history": -1}, {"skip_corrupt": "yes"}]
    for kwargs in bad:
        with pytest.raises(InvalidEventError):
            load_session(sid, mgr.home, **kwargs)
    with pytest.raises(InvalidSessionIdError):  # ids keep their own error (test_layout.py)
        load_session(5, mgr.home)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        read_session_events(mgr.home, sid, strict="no")  # type: ignore[arg-type]


def test_until_as_any_rfc_3339_form_is_compared_as_a_time(mgr: SessionManager) -> None:
    session = mgr.start_session("until")
    mgr.record_command("first")
    events, _ = read_session_events(mgr.home, session.session_id)
    ts = events[1].ts  # e.g. 2026-12-03T16:08:29.810828Z
    whole_second = ts[:19] + "Z"  # before the event, but sorts after it as a plain string
    local = datetime.fromisoformat(ts[:19] + "+00:00").astimezone(timezone(timedelta(hours=5)))
    for until in (whole_second, local.isoformat(), local):
        got, _ = read_session_events(mgr.home, session.session_id, until=until)
        assert [e.seq for e in got] == [0]
        assert load_session(session.session_id, mgr.home, until=until).command_history == []
    got, _ = read_session_events(mgr.home, session.session_id, until=ts)
    assert [e.seq for e in got] == [0, 1]


# -- property: arbitrary values into every recording call --------------------------------

_TEXT = st.text(st.characters(exclude_categories=()), max_size=6)  # lone surrogates too
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**62, max_value=2**200),
    st.floats(),
    st.decimals(),
    st.fractions(),
    st.complex_numbers(max_magnitude=10),
    _TEXT,
    st.binary(max_size=6),
    st.uuids(),
    st.datetimes(),
    st.datetimes(timezones=st.just(timezone.utc)),
    st.sampled_from(["2026-11-24T07:06:00Z", "2026-11-24T07:06:00.5+01:00", "soon", ""]),
    st.builds(object),
)
_KEYS = st.one_of(
    _TEXT, st.integers(), st.floats(), st.booleans(), st.none(), st.tuples(st.integers())
)
_VALUES = st.recursive(
    _SCALARS,
    lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.dictionaries(_KEYS, kids, max_size=3),
        st.tuples(kids, kids),
        st.frozensets(st.integers(), max_size=2),
    ),
    max_leaves=6,
)


_TIMES = st.one_of(
    st.datetimes(timezones=st.just(timezone.utc)),
    st.sampled_from(["2026-11-24T07:06:00Z", "2026-11-24T07:06:00.5+01:00"]),
)
# Good values per argument; each op then replaces at most one of them with an arbitrary
# value, so every single check is exercised on its own.
_GOOD: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "record_message": {
        "message": st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant"]), "content": _VALUES},
            optional={"name": _VALUES},
        )
    },
    "record_command": {"command": _TEXT, "cwd": st.none() | _TEXT},
    "record_execution": {
        "command": _TEXT,
        "exit_code": st.none() | st.integers(),
        "output": _TEXT,
        "duration_s": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "started_at": st.none() | _TIMES,
    },
    "update_metadata": {"changes": st.dictionaries(st.text(max_size=4), _VALUES, max_size=3)},
    "pause_resume": {"reason": st.none() | _TEXT, "history": st.none() | st.integers(0, 3)},
}
_OPS = st.sampled_from(sorted(_GOOD)).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.fixed_dictionaries(_GOOD[name]),
        st.none() | st.sampled_from(sorted(_GOOD[name])),
        _VALUES,
    )
)
_START = st.tuples(
    st.fixed_dictionaries({"project_name": _TEXT, "metadata": st.none(), "cwd": st.none()}),
    st.none() | st.sampled_from(["project_name", "metadata", "cwd"]),
    _VALUES,
)


def _refused_or_done(mgr: SessionManager, call: Callable[[], object]) -> bool:
    """Run `call`; if refused, check nothing changed. True if it succeeded."""
    log = _log(mgr)
    before, state = log.read_bytes(), mgr.current_session.to_dict()  # type: ignore[union-attr]
    try:
        call()
    except InvalidEventError:
        assert log.read_bytes() == before
        assert mgr.current_session.to_dict() == state  # type: ignore[union-attr]
        return False
    return True


def _pause_resume(mgr: SessionManager, reason: Any, history: Any) -> None:
    if not _refused_or_done(mgr, lambda: mgr.pause_session(reason)):
        return
    sid = mgr.current_session.session_id  # type: ignore[union-attr]
    if _refused_or_done(mgr, lambda: mgr.resume_session(sid, history=history)):
        if history is None:
            return
        mgr.pause_session()  # windowed: resume whole again, to compare with a whole load
    mgr.resume_session(sid)


def _start(mgr: SessionManager, args: dict[str, Any]) -> None:
    try:
        mgr.start_session(**args)
    except InvalidEventError:
        assert mgr.current_session is None and mgr.home.session_ids() == []
        mgr.start_session("prop", {"seed": 1})


def _call(mgr: SessionManager, name: str, args: dict[str, Any]) -> None:
    if name == "pause_resume":
        _pause_resume(mgr, args["reason"], args["history"])
    elif name == "update_metadata":
        changes = args["changes"]  # positional-only
        _refused_or_done(mgr, lambda: mgr.update_metadata(changes))
    else:
        method = getattr(mgr, name)
        _refused_or_done(mgr, lambda: method(**args))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    start=_START,
    ops=st.lists(_OPS, max_size=8),
    end_reason=st.none() | _VALUES,
)
def test_arbitrary_arguments_never_make_a_session_unloadable(
    start: tuple[dict[str, Any], str | None, Any],
    ops: list[tuple[str, dict[str, Any], str | None, Any]],
    end_reason: Any,
) -> None:
    with tempfile.TemporaryDirectory() as tmp, SessionManager(Path(tmp) / "home") as mgr:
        start_args, bad, value = start
        _start(mgr, start_args if bad is None else {**start_args, bad: value})
        for name, args, bad, value in ops:
            _call(mgr, name, args if bad is None else {**args, bad: value})
            _loads_equal(mgr)
        if not _refused_or_done(mgr, lambda: mgr.end_session(end_reason)):
            mgr.end_session()
        _loads_equal(mgr)
        assert mgr.current_session.status == "completed"  # type: ignore[union-attr]


def test_the_errors_are_p8j_errors_and_builtin_flavours() -> None:
    assert issubclass(InvalidTypeError, InvalidEventError)
    for cls in (InvalidEventError, InvalidTypeError):
        assert issubclass(cls, P8jError) and issubclass(cls, ValueError)
    assert issubclass(InvalidTypeError, TypeError)
    assert not issubclass(InvalidEventError, TypeError)
