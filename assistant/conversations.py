"""Conversations in SQLite (data dir), so a follow-up finds its earlier turns across invocations.
Only redacted text is stored."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created REAL NOT NULL, region TEXT);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created REAL NOT NULL,
    question TEXT NOT NULL,
    resolved_query TEXT NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages (conversation_id, created);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL REFERENCES messages(id),
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    created REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Turn:
    """One stored exchange: the redacted question, what was searched for, and the answer JSON."""

    message_id: str
    question: str
    resolved_query: str
    answer: dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class ConversationStore:
    """A small SQLite file; each call opens its own connection, so threads can share the store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # stored in the file: once is enough
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One connection per call, committed on success and always closed."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def ensure(self, conversation_id: str | None, region: str | None = None) -> str:
        """The id of an existing conversation, or of a new one (an unknown id starts a conversation)."""
        cid = conversation_id or new_id("c")
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO conversations (id, created, region) VALUES (?, ?, ?)",
                       (cid, time.time(), region))
            if region:
                db.execute("UPDATE conversations SET region = ? WHERE id = ?", (region, cid))
        return cid

    def region(self, conversation_id: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT region FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return row[0] if row else None

    def exists(self, conversation_id: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is not None

    def turns(self, conversation_id: str, limit: int = 20) -> list[Turn]:
        with self._connect() as db:
            rows = db.execute("SELECT id, question, resolved_query, answer FROM messages WHERE conversation_id = ? "
                              "ORDER BY created DESC, rowid DESC LIMIT ?", (conversation_id, limit)).fetchall()
        return [Turn(r[0], r[1], r[2], json.loads(r[3])) for r in reversed(rows)]

    def message(self, message_id: str) -> tuple[str, Turn] | None:
        """The conversation id and the stored turn of one answer."""
        with self._connect() as db:
            row = db.execute("SELECT conversation_id, id, question, resolved_query, answer FROM messages WHERE id = ?",
                             (message_id,)).fetchone()
        return (row[0], Turn(row[1], row[2], row[3], json.loads(row[4]))) if row else None

    def add_feedback(self, message_id: str, rating: str, comment: str | None) -> int:
        with self._connect() as db:
            cur = db.execute("INSERT INTO feedback (message_id, rating, comment, created) VALUES (?, ?, ?, ?)",
                             (message_id, rating, comment, time.time()))
            return int(cur.lastrowid or 0)

    def feedback_counts(self) -> dict[str, int]:
        with self._connect() as db:
            return dict(db.execute("SELECT rating, COUNT(*) FROM feedback GROUP BY rating").fetchall())

    def add(self, conversation_id: str, message_id: str, question: str, resolved_query: str,
            answer: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO messages (id, conversation_id, created, question, resolved_query, answer) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (message_id, conversation_id, time.time(), question, resolved_query, json.dumps(answer)))
