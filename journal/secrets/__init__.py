"""p8j.journal.secrets: write-time redaction, scanning and rewriting logs that hold secrets.

Modules: rules (the built-in rule table), prefilter (`RuleSet`, all rules' candidates
in one RE2 pass), engine (`Redactor`), split (secrets split between two texts),
stream (`RedactStream`, split secrets, the fields redacted), config
(redact.json), scan (`scan_session`), rewrite (`redact_session`). Names load
on first use (PEP 562), so importing one module does not compile every rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .config import (
        CONFIG_NAME,
        ENV_VAR,
        RedactConfig,
        UserRule,
        default_redactor,
        load_config,
        redaction_enabled,
    )
    from .engine import Redactor
    from .rewrite import RedactReport, redact_session
    from .rules import BUILTIN_RULE_IDS, MARKER_PREFIX, Rule, marker
    from .scan import Finding, ScanReport, scan_session
    from .stream import CARRY_CHARS, REDACTED_FIELDS, RedactStream

_LAZY: dict[str, str] = {
    "BUILTIN_RULE_IDS": "rules",
    "CARRY_CHARS": "stream",
    "CONFIG_NAME": "config",
    "ENV_VAR": "config",
    "MARKER_PREFIX": "rules",
    "REDACTED_FIELDS": "stream",
    "Finding": "scan",
    "RedactConfig": "config",
    "RedactReport": "rewrite",
    "RedactStream": "stream",
    "Redactor": "engine",
    "Rule": "rules",
    "ScanReport": "scan",
    "UserRule": "config",
    "default_redactor": "config",
    "load_config": "config",
    "marker": "rules",
    "redact_session": "rewrite",
    "redaction_enabled": "config",
    "scan_session": "scan",
}

__all__ = [
    "BUILTIN_RULE_IDS",
    "CARRY_CHARS",
    "CONFIG_NAME",
    "ENV_VAR",
    "MARKER_PREFIX",
    "REDACTED_FIELDS",
    "Finding",
    "RedactConfig",
    "RedactReport",
    "RedactStream",
    "Redactor",
    "Rule",
    "ScanReport",
    "UserRule",
    "default_redactor",
    "load_config",
    "marker",
    "redact_session",
    "redaction_enabled",
    "scan_session",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
