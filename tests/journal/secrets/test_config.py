"""redact.json (config.py): user rules, the allow-list, disabling rules, unsafe or bad files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fakes import FAKES, Fakes

from p8j.journal import (
    Home,
    SessionManager,
    UnsafePathError,
)
from p8j.journal.errors import RedactConfigError
from p8j.journal.secrets.config import CONFIG_NAME, default_redactor
from p8j.journal.secrets.engine import Redactor
from p8j.journal.secrets.rules import BUILTIN_RULE_IDS
from p8j.journal.secrets.stream import RedactStream

REDACTOR = Redactor()
CASES = FAKES.cases()
PROSE = "Please refactor the session loader so it streams the log instead of reading it whole. #1"


def _config(home: Home, data: Any, mode: int = 0o600) -> Path:
    home.ensure()
    path = home.path / CONFIG_NAME
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def test_user_rules_allow_list_and_disable(home: Home) -> None:
    f = Fakes(seed=7)
    _config(
        home,
        {
            "rules": [
                {"id": "acme-token", "pattern": "acme_[0-9a-f]{32}", "keywords": ["acme_"]},
                {
                    "id": "ticket",
                    "pattern": r"TICKET-(?P<secret>\d{6})",
                    "keywords": ["ticket-"],
                    "ignore_case": True,
                },
            ],
            "allow": [f.github],
            "allow_patterns": ["^sk-proj-fixture.*$"],
            "disable": ["aws-access-key"],
        },
    )
    red = default_redactor(home.path)
    acme = "acme_" + "0123456789abcdef" * 2
    assert red.text(f"use {acme} now") == "use [REDACTED:acme-token] now"
    assert red.text("see TICKET-123456") == "see TICKET-[REDACTED:ticket]"
    assert red.text(f"allowed {f.github}") == f"allowed {f.github}"
    fixture = "sk-proj-fixture" + "Ab1" * 10
    assert red.text(fixture) == fixture
    assert red.text(f"id {f.aws}") == f"id {f.aws}"  # disabled
    assert red.text(f"key {f.anthropic}") == "key [REDACTED:anthropic-api-key]"  # still on
    with SessionManager(home) as mgr:
        sid = mgr.start_session("cfg").session_id
        mgr.record_message({"role": "user", "content": f"deploy with {acme}"})
    assert acme not in home.log_path(sid).read_text()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("{not json", "invalid"),
        ({"rules": [{"id": "x", "pattern": "("}]}, "bad pattern"),
        ({"rules": [{"id": "Bad Id", "pattern": "x"}]}, "must be lower-case"),
        ({"rules": [{"id": "empty", "pattern": "a*"}]}, "empty string"),
        ({"disable": ["no-such-rule"]}, "unknown rule ids"),
        ({"allow_patterns": ["["]}, "bad pattern"),
        ({"rulez": []}, "invalid"),
    ],
)
def test_a_bad_config_is_a_clear_error_before_anything_is_written(
    home: Home, data: Any, match: str
) -> None:
    path = _config(home, data)
    with pytest.raises(RedactConfigError, match=match) as info:
        SessionManager(home).start_session("x")
    assert info.value.path == str(path)
    assert home.session_ids() == []


def test_an_unsafe_config_is_refused(home: Home, tmp_path: Path) -> None:
    path = _config(home, {"allow": ["x"]}, mode=0o666)
    with pytest.raises(UnsafePathError, match="chmod 600"):
        default_redactor(home.path)
    path.unlink()
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text(json.dumps({"disable": list(BUILTIN_RULE_IDS)}))
    path.symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symlink"):
        default_redactor(home.path)


def test_user_rules_keep_their_keywords_in_a_stream(home: Home) -> None:
    _config(
        home,
        {
            "rules": [
                {"id": "acme-token", "pattern": "acme_[0-9a-f]{32}", "keywords": ["acme_"]},
                {"id": "zork", "pattern": "zork[0-9]{8}", "keywords": ["zork"]},
                {
                    "id": "ticket",
                    "pattern": r"TICKET(?P<secret>\d{6})",
                    "keywords": ["ticket"],
                    "ignore_case": True,
                },
            ]
        },
    )
    red = default_redactor(home.path)
    acme = "acme_" + "0123456789abcdef" * 2
    stream = RedactStream(red)
    assert stream.text(PROSE) == PROSE
    assert stream.text(f"use {acme} now") == "use [REDACTED:acme-token] now"
    assert stream.text(PROSE) == PROSE
    assert stream.text("see zork12345678") == "see [REDACTED:zork]"
    assert stream.text("see TICKET123456") == "see TICKET[REDACTED:ticket]"
    assert stream.text("a ticket, not TICKET12345") == "a ticket, not TICKET12345"
    stream.reset()
    assert stream.text("key: " + acme[:20]) == "key: " + acme[:20]
    assert stream.text(acme[20:] + " ok") == "[REDACTED:acme-token] ok"
