"""Fake credentials built at run time by concatenation, and sessions that leak them.

No string in this repository looks like a real key: every fake is assembled
from pieces (the vendor prefix apart from a random body), so secret scanners of
the repository itself have nothing to find, and each run uses fresh values.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from p8j.journal import Home, Session, SessionManager

__all__ = ["FAKES", "RECORDING_POSITIONS", "Fakes", "b62", "leaky_session"]

_ALNUM = string.ascii_letters + string.digits


def b62(rnd: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    """`n` random characters with at least one upper, one lower and one digit."""
    while True:
        s = "".join(rnd.choice(alphabet) for _ in range(n))
        if alphabet != _ALNUM or (
            any(c.isupper() for c in s)
            and any(c.islower() for c in s)
            and any(c.isdigit() for c in s)
        ):
            return s


class Fakes:
    """One fake credential per built-in rule, and the rule id expected to catch it."""

    def __init__(self, seed: int = 1) -> None:
        rnd = random.Random(seed)
        upper = string.ascii_uppercase + string.digits
        self.anthropic = "sk" + "-ant-" + "api03-" + b62(rnd, 93, _ALNUM + "-_") + "AA"
        self.openai = "sk" + "-proj-" + b62(rnd, 64)
        self.aws = "AK" + "IA" + "".join(rnd.choice(upper) for _ in range(16))
        self.github = "gh" + "p_" + b62(rnd, 36)
        self.github_pat = "github" + "_pat_" + b62(rnd, 22) + "_" + b62(rnd, 59)
        self.slack = "xo" + "xb-" + "".join(rnd.choice(string.digits) for _ in range(12)) + "-"
        self.slack += "".join(rnd.choice(string.digits) for _ in range(13)) + "-" + b62(rnd, 24)
        self.slack_hook = (
            "https://hooks" + ".slack.com/services/T0" + b62(rnd, 8) + "/" + b62(rnd, 24)
        )
        self.google = "AI" + "za" + b62(rnd, 35, _ALNUM + "-_")
        self.stripe = "sk" + "_live_" + b62(rnd, 24)
        self.huggingface = "hf" + "_" + b62(rnd, 34, string.ascii_letters)
        self.jwt = (
            "ey"
            + "JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
            + "."
            + "ey"
            + "J"
            + b62(rnd, 40)
            + "."
            + b62(rnd, 43, _ALNUM + "-_")
        )
        body = "\n".join(b62(rnd, 64, _ALNUM + "+/") for _ in range(8))
        self.pem = (
            "-----BEGIN RSA " + "PRIVATE KEY-----\n" + body + "\n-----END RSA " + "PRIVATE KEY-----"
        )
        self.bearer_token = b62(rnd, 40, _ALNUM + "._-")
        self.password = "hunter2-" + b62(rnd, 10)
        self.generic = b62(rnd, 40)

    def cases(self) -> list[tuple[str, str, str]]:
        """(text containing a secret, the secret, the rule id that must fire)."""
        return [
            (f"my key is {self.anthropic} thanks", self.anthropic, "anthropic-api-key"),
            (f"OPENAI_KEY is {self.openai}", self.openai, "openai-api-key"),
            (f"aws id {self.aws} in use", self.aws, "aws-access-key"),
            (f"token: {self.github}", self.github, "github-token"),
            (f"pat {self.github_pat}.", self.github_pat, "github-token"),
            (f"slack {self.slack}", self.slack, "slack-token"),
            (f"hook {self.slack_hook}", self.slack_hook, "slack-webhook"),
            (f"google {self.google}", self.google, "google-api-key"),
            (f"stripe {self.stripe}", self.stripe, "stripe-key"),
            (f"hf {self.huggingface}", self.huggingface, "huggingface-token"),
            (f"jwt {self.jwt}", self.jwt, "jwt"),
            (f"key:\n{self.pem}\n", self.pem, "private-key"),
            (
                f'curl -H "Authorization: Bearer {self.bearer_token}" https://api.example.org',
                self.bearer_token,
                "bearer-token",
            ),
            (
                "Authorization: Basic " + "dXNlcjpzM2NyM3Qx" + "MjM0NTY=",
                "dXNlcjpzM2NyM3Qx" + "MjM0NTY=",
                "authorization-header",
            ),
            (
                f"postgres://admin:{self.password}@db.internal:5432/app",
                self.password,
                "url-password",
            ),
            ("export GITHUB_TO" + f"KEN={self.password}", self.password, "secret-assignment"),
            ("export MY_API_K" + f'EY="{self.password}"', self.password, "secret-assignment"),
            ("AWS_SECRET_ACCESS_K" + f"EY={self.generic}", self.generic, "secret-assignment"),
            ("PASS" + f"WORD={self.password}", self.password, "secret-assignment"),
            ("mysql --pass" + f"word={self.password} -u root", self.password, "password-flag"),
            (
                'settings = {"client_sec' + f'ret": "{self.generic}"}}',
                self.generic,
                "generic-secret",
            ),
            ("api_k" + f"ey: {self.generic}", self.generic, "generic-secret"),
        ]


FAKES = Fakes()


def leaky_session(home: Home) -> str:
    """A session recorded with redaction off (as an older p8j, or an import, would)."""
    f = FAKES
    with SessionManager(home, redact=False) as mgr:
        sid = mgr.start_session("leaky", {"db_password": "hunter2"}).session_id
        mgr.record_message({"role": "user", "content": f"deploy with {f.github} please"})
        mgr.record_message({"role": "assistant", "content": "done, nothing else"})
        mgr.record_execution("cat .env", 0, f"STRIPE_KEY={f.stripe}\nDEBUG=1\n")
        mgr.record_message({"role": "user", "content": "the key was " + f.anthropic[:20]})
        mgr.record_message({"role": "user", "content": f.anthropic[20:]})
        mgr.update_metadata(note="clean")
    return sid


# Every place a public recording call writes a caller's string, as (name, call): `call`
# records `text` in that place on a manager with no session open (starting one first
# where the place is not the start itself). Keys include keyword-argument names.
def _started(mgr: SessionManager) -> Session:
    return mgr.start_session("p", {"k": "v"}, cwd="/w")


def _paused_then_ended(mgr: SessionManager, text: str) -> None:
    _started(mgr)
    mgr.pause_session()
    mgr.end_session(text)


RECORDING_POSITIONS: list[tuple[str, Callable[[SessionManager, str], object]]] = [
    ("project_name", lambda m, t: m.start_session(t, cwd="/w")),
    ("metadata value", lambda m, t: m.start_session("p", {"note": t}, cwd="/w")),
    ("metadata key", lambda m, t: m.start_session("p", {t: "v"}, cwd="/w")),
    ("nested metadata key", lambda m, t: m.start_session("p", {"a": [{t: 1}]}, cwd="/w")),
    ("start cwd", lambda m, t: m.start_session("p", cwd=t)),
    ("role", lambda m, t: (_started(m), m.record_message({"role": t, "content": "hi"}))),
    ("content", lambda m, t: (_started(m), m.record_message({"role": "user", "content": t}))),
    (
        "content block text",
        lambda m, t: (
            _started(m),
            m.record_message({"role": "user", "content": [{"type": "text", "text": t}]}),
        ),
    ),
    (
        "content block key",
        lambda m, t: (
            _started(m),
            m.record_message({"role": "user", "content": [{"type": "text", t: "x"}]}),
        ),
    ),
    (
        "extra value",
        lambda m, t: (_started(m), m.record_message({"role": "u", "content": "hi", "meta": t})),
    ),
    (
        "extra key",
        lambda m, t: (_started(m), m.record_message({"role": "u", "content": "hi", t: "x"})),
    ),
    (
        "nested extra key",
        lambda m, t: (_started(m), m.record_message({"role": "u", "meta": {t: {"k": 1}}})),
    ),
    ("command", lambda m, t: (_started(m), m.record_command(t))),
    ("command cwd", lambda m, t: (_started(m), m.record_command("ls", cwd=t))),
    ("execution command", lambda m, t: (_started(m), m.record_execution(t, 0, "ok"))),
    ("execution output", lambda m, t: (_started(m), m.record_execution("env", 0, t))),
    ("metadata change value", lambda m, t: (_started(m), m.update_metadata({"k": t}))),
    ("metadata change key", lambda m, t: (_started(m), m.update_metadata({t: "v"}))),
    ("metadata keyword name", lambda m, t: (_started(m), m.update_metadata(**{t: "v"}))),
    ("pause reason", lambda m, t: (_started(m), m.pause_session(t))),
    ("end reason", lambda m, t: (_started(m), m.end_session(t))),
    ("end reason of a paused session", _paused_then_ended),
]
