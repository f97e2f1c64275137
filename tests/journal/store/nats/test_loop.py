"""The store's event-loop thread (loop.py): results, errors, timeouts and cancellation cross it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from p8j.journal.errors import JournalIOError
from p8j.journal.store.nats.loop import Loop


@pytest.fixture
def loop() -> Loop:
    return Loop("p8j-test-loop")


def test_run_returns_the_result_and_raises_the_error(loop: Loop) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def broken() -> None:
        raise ValueError("from the loop")

    try:
        assert loop.run(answer()) == 42
        with pytest.raises(ValueError, match="from the loop"):
            loop.run(broken())
    finally:
        loop.close()


def test_a_timeout_cancels_the_task_and_says_so(loop: Loop) -> None:
    cancelled = threading.Event()
    never = asyncio.Event()

    async def stuck() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    try:
        with pytest.raises(JournalIOError, match=r"did not answer in 0\.05 s"):
            loop.run(stuck(), timeout=0.05)
        assert cancelled.wait(10)
    finally:
        loop.close()


def test_run_from_the_loop_itself_is_refused_and_a_closed_loop_runs_nothing(loop: Loop) -> None:
    async def inner() -> None:
        async def nothing() -> None:
            return None

        loop.run(nothing())

    with pytest.raises(RuntimeError, match="own thread"):
        loop.run(inner())
    loop.close()

    async def later() -> None:
        return None

    with pytest.raises(JournalIOError, match="closed"):
        loop.run(later())
