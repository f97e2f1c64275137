"""One interface over p8j and each peer: open with a pre-filled history, record, close.

Every adapter records the same message sequence (bench.common.message). Adapters
for libraries that are not installed raise `PeerMissing`; the benchmarks turn
that into a clean skip. `durability` says what a returned record survives, so
fsync peers are compared with p8j's fsync mode and page-cache peers with its
default mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p8j.journal import Home, SessionManager
from p8j.journal.store.fs.writer import Durability

from ..common import message, session_id, write_log
from .original import SessionManager as OriginalManager

PEERS = ("p8j", "p8j-fsync", "original", "langchain-file", "openai-sqlite", "eventsourcing-sqlite")


class PeerMissing(Exception):
    """The peer's library is not installed."""


class Adapter:
    """A session of some implementation, open for recording."""

    name = ""
    durability = ""

    def record(self, i: int) -> None:
        """Record message `i`."""
        raise NotImplementedError

    def close(self) -> None:
        """Release everything."""


class P8j(Adapter):
    """p8j's SessionManager on a log pre-filled with `prefill` events, then resumed."""

    def __init__(self, directory: Path, prefill: int, durability: Durability = "default") -> None:
        self.name = "p8j" if durability == "default" else f"p8j-{durability}"
        self.durability = "fsync per record" if durability == "fsync" else "page cache"
        home = Home(directory / "p8j")
        sid = session_id(1)
        write_log(home, sid, max(prefill, 1))
        self.mgr = SessionManager(home, durability=durability)
        self.mgr.resume_session(sid)
        self._record = self.mgr.record_message

    def record(self, i: int) -> None:
        """Record message `i`."""
        self._record(message(i))

    def close(self) -> None:
        """Pause and close."""
        self.mgr.close()


class Original(Adapter):
    """The original design: the whole session rewritten as JSON after each message."""

    name = "original"
    durability = "page cache (not crash-safe)"

    def __init__(self, directory: Path, prefill: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.mgr = OriginalManager(directory)
        session = self.mgr.start_session("bench")
        session.conversation_history.extend(message(i) for i in range(prefill))
        self.mgr.save_session()

    def record(self, i: int) -> None:
        """Record message `i` (and rewrite the file)."""
        self.mgr.record_message(message(i))


class LangChainFile(Adapter):
    """langchain-community's FileChatMessageHistory (re-reads and rewrites the file)."""

    name = "langchain-file"
    durability = "page cache (not crash-safe)"

    def __init__(self, directory: Path, prefill: int) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the package announces its sunset on import
                from langchain_community.chat_message_histories import FileChatMessageHistory
                from langchain_core.messages import AIMessage, HumanMessage, messages_to_dict
        except ImportError as exc:
            raise PeerMissing("langchain-community / langchain-core not installed") from exc
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "history.json"
        kinds: dict[str, Callable[..., Any]] = {"user": HumanMessage, "assistant": AIMessage}
        self._kinds = kinds
        msgs = [kinds[m["role"]](content=m["content"]) for m in map(message, range(prefill))]
        path.write_text(json.dumps(messages_to_dict(msgs)))
        self.history = FileChatMessageHistory(str(path))

    def record(self, i: int) -> None:
        """Record message `i`."""
        m = message(i)
        self.history.add_message(self._kinds[m["role"]](content=m["content"]))


class OpenAISQLite(Adapter):
    """The OpenAI Agents SDK's SQLiteSession on a file (WAL, synchronous=FULL)."""

    name = "openai-sqlite"
    durability = "fsync per record (SQLite commit)"

    def __init__(self, directory: Path, prefill: int) -> None:
        try:
            from agents import SQLiteSession
        except ImportError as exc:
            raise PeerMissing("openai-agents not installed") from exc
        directory.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self.session = SQLiteSession("bench", directory / "agents.db")
        if prefill:
            items: list[Any] = [message(i) for i in range(prefill)]
            self.loop.run_until_complete(self.session.add_items(items))

    def record(self, i: int) -> None:
        """Record message `i`."""
        self.loop.run_until_complete(self.session.add_items([message(i)]))  # type: ignore[list-item]

    def close(self) -> None:
        """Close the session and the loop."""
        self.session.close()
        self.loop.close()


class EventSourcingSQLite(Adapter):
    """The eventsourcing library: an aggregate saved to SQLite after each event."""

    name = "eventsourcing-sqlite"
    durability = "fsync per record (SQLite commit)"

    def __init__(self, directory: Path, prefill: int) -> None:
        try:
            from eventsourcing.application import Application

            from .es_model import Conversation
        except ImportError as exc:
            raise PeerMissing("eventsourcing not installed") from exc
        directory.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(directory / "es.db"),
        }
        self.app: Any = Application(env=env)
        self.agg = Conversation("bench")
        for i in range(prefill):
            m = message(i)
            self.agg.record_message(m["role"], m["content"])
        self.app.save(self.agg)

    def record(self, i: int) -> None:
        """Record message `i` and save the aggregate (one transaction)."""
        m = message(i)
        self.agg.record_message(m["role"], m["content"])
        self.app.save(self.agg)

    def close(self) -> None:
        """Close the application's persistence."""
        self.app.close()


def open_adapter(name: str, directory: Path, prefill: int) -> Adapter:
    """Open peer `name` in `directory` with `prefill` messages already recorded."""
    os.makedirs(directory, exist_ok=True)
    if name == "p8j":
        return P8j(directory, prefill)
    if name == "p8j-fsync":
        return P8j(directory, prefill, "fsync")
    if name == "p8j-batch":
        return P8j(directory, prefill, "batch")
    if name == "original":
        return Original(directory, prefill)
    if name == "langchain-file":
        return LangChainFile(directory, prefill)
    if name == "openai-sqlite":
        return OpenAISQLite(directory, prefill)
    if name == "eventsourcing-sqlite":
        return EventSourcingSQLite(directory, prefill)
    raise ValueError(name)
