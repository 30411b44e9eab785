"""Conversations in SQLite (data dir), so a follow-up finds its earlier turns across invocations.
Only redacted text is stored. A conversation begun over HTTP is bound to a secret (stored hashed) that its
client must show to read or continue it; the local CLI names its own conversations."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
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
CREATE UNIQUE INDEX IF NOT EXISTS feedback_one_per_message ON feedback (message_id);
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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ConversationStore:
    """A small SQLite file; each call opens its own connection, so threads can share the store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # stored in the file: once is enough
            columns = {r[1] for r in db.execute("PRAGMA table_info(conversations)")}
            if columns and "secret_hash" not in columns:  # a file from before conversation secrets
                db.execute("ALTER TABLE conversations ADD COLUMN secret_hash TEXT")
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback'").fetchone():
                # before one rating per answer: keep each answer's latest
                db.execute("DELETE FROM feedback WHERE id NOT IN (SELECT MAX(id) FROM feedback GROUP BY message_id)")
            db.executescript(_SCHEMA.replace("region TEXT);", "region TEXT, secret_hash TEXT);"))

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

    def create(self, region: str | None = None) -> tuple[str, str]:
        """A new conversation issued by the service: its id and the secret its client keeps (shown once)."""
        cid, secret = new_id("c"), secrets.token_urlsafe(24)
        with self._connect() as db:
            db.execute("INSERT INTO conversations (id, created, region, secret_hash) VALUES (?, ?, ?, ?)",
                       (cid, time.time(), region, _hash(secret)))
        return cid, secret

    def verify(self, conversation_id: str, secret: str | None) -> bool | None:
        """None when there is no such conversation; else whether the secret is the one it was issued with.
        A conversation the CLI named has no secret and cannot be reached over HTTP."""
        with self._connect() as db:
            row = db.execute("SELECT secret_hash FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            return None
        return bool(row[0] and secret and hmac.compare_digest(row[0], _hash(secret)))

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
        """Rate an answer; a second rating of the same answer replaces the first (it must not add up). The
        comment must already be screened."""
        with self._connect() as db:
            cur = db.execute("INSERT INTO feedback (message_id, rating, comment, created) VALUES (?, ?, ?, ?) "
                             "ON CONFLICT (message_id) DO UPDATE SET rating = excluded.rating, "
                             "comment = excluded.comment, created = excluded.created",
                             (message_id, rating, comment, time.time()))
            row = db.execute("SELECT id FROM feedback WHERE message_id = ?", (message_id,)).fetchone()
            return int(row[0] if row else cur.lastrowid or 0)

    def feedback_counts(self) -> dict[str, int]:
        with self._connect() as db:
            return dict(db.execute("SELECT rating, COUNT(*) FROM feedback GROUP BY rating").fetchall())

    def add(self, conversation_id: str, message_id: str, question: str, resolved_query: str,
            answer: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO messages (id, conversation_id, created, question, resolved_query, answer) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (message_id, conversation_id, time.time(), question, resolved_query, json.dumps(answer)))
