"""Follower.stop() against a polling sleep: it cuts the sleep short, from another thread, twice."""

from __future__ import annotations

import threading

from p8j.journal import Home, SessionManager
from p8j.replay.follow import Follower


def test_stop_wakes_a_long_polling_sleep_at_once(rhome: Home) -> None:
    with SessionManager(rhome) as mgr:
        mgr.start_session("p")
    # A minute between polls: only stop() itself can end this iteration in time.
    follower = Follower(rhome, force_polling=True, poll_delay_ms=60_000)
    items: list[object] = []
    thread = threading.Thread(target=lambda: items.extend(follower), daemon=True)
    thread.start()
    assert follower.ready.wait(10)
    follower.stop()
    follower.stop()  # twice (two threads ending it) is no error
    thread.join(10)
    assert not thread.is_alive(), "stop() did not wake the polling sleep"
    assert items  # the backlog came before the sleep


def test_stop_before_the_iteration_starts_ends_it_after_the_backlog(rhome: Home) -> None:
    with SessionManager(rhome) as mgr:
        mgr.start_session("p")
    follower = Follower(rhome, force_polling=True, poll_delay_ms=60_000)
    follower.stop()
    assert [type(i).__name__ for i in follower] == ["FollowedEvent", "FollowedEvent"]
