"""The demo's scripted sessions: what `p8j demo` records, as data plus the calls that record it.

Contract: every session is written through `SessionManager` exactly as an
embedding agent CLI would write it: messages with content blocks (text,
thinking, tool_use, tool_result, as Claude Code logs them), commands,
executions, metadata, a pause and a resume. `record_demo_sessions` writes three:
webshop (ended), api-server (paused) and docs-site (left active by a child
process that exits without closing it, so it shows as crashed). `record_live`
appends `LIVE_SCRIPT` round after round to an open session, then ends it.
"""

from __future__ import annotations

import time
from typing import Any

from p8j.journal import Home, P8jError, SessionManager
from p8j.journal.store.fs.store import FileStore

__all__ = [
    "LIVE_SCRIPT",
    "MODEL",
    "record_api_server",
    "record_demo_sessions",
    "record_docs_site",
    "record_live",
    "record_webshop",
]

MODEL = "claude-sonnet-4-5"


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _tool_use(ident: str, name: str, **tool_input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": ident, "name": name, "input": tool_input}


def _tool_result(ident: str, content: str, *, error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": ident, "content": content}
    if error:
        block["is_error"] = True
    return block


FAILING_RUN = """\
..F.                                                                     [100%]
=================================== FAILURES ===================================
_______________________ test_coupon_with_free_shipping ________________________
    def test_coupon_with_free_shipping():
        cart = Cart([Item("mug", 40.0), Item("poster", 60.0)])
>       assert checkout_total(cart, coupon="SAVE10", shipping="free") == 90.0
E       assert 85.5 == 90.0
tests/test_checkout.py:31: AssertionError
1 failed, 3 passed in 0.41s"""

CHECKOUT_SOURCE = """\
def checkout_total(cart, coupon=None, shipping="standard"):
    subtotal = sum(item.price for item in cart.items)
    total = subtotal + shipping_cost(subtotal, shipping)
    if coupon:
        total = apply_coupon(total, coupon)   # discounts shipping too
    return round(total, 2)"""


def record_webshop(mgr: SessionManager) -> str:
    """A bug hunt from failing test to fix, ended; return its id."""
    s = mgr.start_session("webshop", {"model": MODEL, "branch": "fix/checkout-total"})
    _webshop_diagnose(mgr)
    _webshop_fix(mgr)
    mgr.update_metadata(tests="passing")
    mgr.end_session("task done")
    return s.session_id


def _webshop_diagnose(mgr: SessionManager) -> None:
    mgr.record_message(
        {
            "role": "user",
            "content": "The checkout total is wrong when a coupon and free shipping apply "
            "together. Can you find out why and fix it?",
        }
    )
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                _text("I'll start by running the checkout tests."),
                _tool_use(
                    "toolu_01",
                    "Bash",
                    command="pytest tests/test_checkout.py -q",
                    description="Run the checkout tests",
                ),
            ],
            "model": MODEL,
        }
    )
    mgr.record_command("pytest tests/test_checkout.py -q", cwd="/home/dev/webshop")
    mgr.record_execution("pytest tests/test_checkout.py -q", 1, FAILING_RUN, duration_s=0.41)
    mgr.record_message(
        {"role": "user", "content": [_tool_result("toolu_01", FAILING_RUN, error=True)]}
    )
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "85.5 is 95 minus 10%: the coupon is applied after shipping is "
                    "added, so it discounts shipping as well. Look at checkout_total.",
                    "signature": "demo",
                },
                _tool_use("toolu_02", "Read", file_path="src/shop/checkout.py"),
            ],
            "model": MODEL,
        }
    )


def _webshop_fix(mgr: SessionManager) -> None:
    mgr.record_message({"role": "user", "content": [_tool_result("toolu_02", CHECKOUT_SOURCE)]})
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                _text("The coupon is applied to the total including shipping. Moving it before."),
                _tool_use(
                    "toolu_03",
                    "Edit",
                    file_path="src/shop/checkout.py",
                    old_string="    total = subtotal + shipping_cost(subtotal, shipping)\n"
                    "    if coupon:\n        total = apply_coupon(total, coupon)",
                    new_string="    if coupon:\n        subtotal = apply_coupon(subtotal, coupon)\n"
                    "    total = subtotal + shipping_cost(subtotal, shipping)",
                ),
            ],
            "model": MODEL,
        }
    )
    mgr.record_message(
        {
            "role": "user",
            "content": [
                _tool_result("toolu_03", "The file src/shop/checkout.py has been updated.")
            ],
        }
    )
    mgr.record_command("pytest -q", cwd="/home/dev/webshop")
    mgr.record_execution(
        "pytest -q", 0, "........................  [100%]\n24 passed in 1.92s", 1.92
    )
    mgr.record_message(
        {
            "role": "assistant",
            "content": "Fixed. The coupon now discounts the subtotal only, so free shipping "
            "stays free and `SAVE10` takes 10% off the items. All 24 tests pass.",
            "model": MODEL,
        }
    )


def record_api_server(mgr: SessionManager) -> str:
    """A feature request with a pause and a resume, left paused; return its id."""
    s = mgr.start_session("api-server", {"model": MODEL})
    mgr.record_message({"role": "user", "content": "Add rate limiting to the /login endpoint."})
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                _text("Let me find the login handler first."),
                _tool_use("toolu_11", "Grep", pattern="def login", path="app/"),
            ],
            "model": MODEL,
        }
    )
    mgr.record_message(
        {
            "role": "user",
            "content": [_tool_result("toolu_11", "app/auth/views.py:42:def login(request):")],
        }
    )
    mgr.pause_session("user stepped away")
    mgr.resume_session(s.session_id)
    mgr.record_message(
        {"role": "user", "content": "Back. Use a sliding window: 5 attempts per minute per IP."}
    )
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                _text("I'll add a small sliding-window limiter and wire it into login()."),
                _tool_use(
                    "toolu_12",
                    "Write",
                    file_path="app/auth/ratelimit.py",
                    content="WINDOW_S = 60\nMAX_ATTEMPTS = 5\n...",
                ),
            ],
            "model": MODEL,
        }
    )
    mgr.record_message(
        {"role": "user", "content": [_tool_result("toolu_12", "File created successfully.")]}
    )
    mgr.record_command("git diff --stat")
    mgr.record_execution(
        "git diff --stat",
        0,
        " app/auth/ratelimit.py | 31 +++++++++++++++++++++++++++++++\n"
        " app/auth/views.py     |  3 +++\n 2 files changed, 34 insertions(+)",
        0.02,
    )
    mgr.pause_session("end of the day")
    return s.session_id


def record_docs_site(mgr: SessionManager) -> str:
    """A short session left open (the caller's process should exit); return its id."""
    s = mgr.start_session("docs-site", {"model": MODEL})
    mgr.record_message(
        {"role": "user", "content": "Document the deploy script in the README, with an example."}
    )
    mgr.record_message(
        {
            "role": "assistant",
            "content": [
                _text("Let me see what the scripts directory holds."),
                _tool_use("toolu_21", "Bash", command="ls scripts/", description="List scripts"),
            ],
            "model": MODEL,
        }
    )
    mgr.record_command("ls scripts/")
    mgr.record_execution("ls scripts/", 0, "build.sh\ndeploy.sh\nrelease-notes.py", 0.01)
    mgr.record_message(
        {
            "role": "user",
            "content": [_tool_result("toolu_21", "build.sh\ndeploy.sh\nrelease-notes.py")],
        }
    )
    # Not paused or ended: when this process exits its lock goes with it, so the
    # session shows as crashed, exactly like an agent that was killed mid-task.
    return s.session_id


_CHILD = (
    "import os, sys\n"
    "from p8j.cli.demo_sessions import record_docs_site\n"
    "from p8j.journal import SessionManager\n"
    "print(record_docs_site(SessionManager(store=sys.argv[1])), flush=True)\n"
    "os._exit(0)  # no pause, no end: the way a killed agent leaves its session\n"
)


def _record_crashed(home: Home) -> str:
    """Record the docs-site session in a child process that exits without closing it."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(home.path)],
        capture_output=True,
        text=True,
        check=False,
    )
    sid = done.stdout.strip()
    if done.returncode != 0 or not sid:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise P8jError(f"the demo's writer process failed: {last}")
    return sid


def record_demo_sessions(home: Home) -> list[str]:
    """Record the three demo sessions into `home`; return their ids (oldest first)."""
    home.ensure()
    return [
        record_webshop(SessionManager(store=FileStore(home))),
        record_api_server(SessionManager(store=FileStore(home))),
        _record_crashed(home),
    ]


LIVE_SCRIPT: list[tuple[str, Any]] = [
    ("message", {"role": "user", "content": "Run the linter and fix what it finds."}),
    (
        "message",
        {
            "role": "assistant",
            "content": [
                _text("Running ruff."),
                _tool_use("toolu_l1", "Bash", command="ruff check ."),
            ],
        },
    ),
    ("command", "ruff check ."),
    (
        "execution",
        (
            "ruff check .",
            1,
            "app/models.py:12:1: F401 `os` imported but unused\nFound 1 error.",
            0.3,
        ),
    ),
    (
        "message",
        {"role": "user", "content": [_tool_result("toolu_l1", "Found 1 error.", error=True)]},
    ),
    (
        "message",
        {
            "role": "assistant",
            "content": [
                _text("Removing the unused import."),
                _tool_use(
                    "toolu_l2",
                    "Edit",
                    file_path="app/models.py",
                    old_string="import os\n",
                    new_string="",
                ),
            ],
        },
    ),
    (
        "message",
        {
            "role": "user",
            "content": [_tool_result("toolu_l2", "The file app/models.py has been updated.")],
        },
    ),
    ("command", "ruff check ."),
    ("execution", ("ruff check .", 0, "All checks passed!", 0.2)),
    ("message", {"role": "assistant", "content": "The linter is clean now."}),
]


def record_live(mgr: SessionManager, duration: float, interval: float) -> tuple[int, str]:
    """Append `LIVE_SCRIPT` round after round to `mgr`'s open session, one event every
    `interval` seconds, for `duration` seconds (0: until Ctrl-C); end the session.

    Returns the number of events appended and the reason the session was ended with.
    """
    deadline = time.monotonic() + duration if duration > 0 else None
    count = 0
    reason = "demo finished"
    try:
        while deadline is None or time.monotonic() < deadline:
            kind, payload = LIVE_SCRIPT[count % len(LIVE_SCRIPT)]
            if kind == "message":
                mgr.record_message(payload)
            elif kind == "command":
                mgr.record_command(payload)
            else:
                mgr.record_execution(*payload)
            count += 1
            if count % len(LIVE_SCRIPT) == 0:
                mgr.update_metadata(rounds=count // len(LIVE_SCRIPT))
            time.sleep(interval)  # pacing for a human watching `p8j tail`, not synchronisation
    except KeyboardInterrupt:
        reason = "interrupted"
    mgr.end_session(reason)
    return count, reason
