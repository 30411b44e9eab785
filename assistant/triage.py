"""Provider-relations triage: every answered turn, escalated inquiries, staff tokens, notes, approved
answers and the audit log. The only module that imports SQLAlchemy.

SQLite in the data dir by default (WAL, safe for concurrent writers); any SQLAlchemy URL
(``PA_DATABASE_URL``) for a shared deployment. Migrations are numbered and run on start.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    Label,
    MetaData,
    String,
    Table,
    Text,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.schema import CreateColumn

from assistant.errors import InvalidRequest, NotFound, Unauthorized
from assistant.safety import screen
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.phi import PhiScreen

STATUSES = ("new", "in_progress", "resolved")
RATINGS = ("up", "down")
# What an inquiry copies of its conversation: enough for staff to follow it, bounded however long it ran.
TRANSCRIPT_TURNS = 20
ANSWER_CHARS = 2000
CITATIONS_PER_TURN = 10
BURST_WINDOW_SECONDS = 3600.0
BURST_AFTER = 3  # more inquiries than this from one client within the window are a burst
MAX_PAGE = 200
MAX_AUDIT_PAGE = 1000
metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, primary_key=True),
                       Column("applied_at", Float, nullable=False))
turns = Table(
    "turns", metadata,
    Column("message_id", String(40), primary_key=True),
    Column("conversation_id", String(64), nullable=False, index=True),
    Column("created", Float, nullable=False, index=True),
    Column("question", Text, nullable=False),  # member identifiers redacted
    Column("answer", Text, nullable=False),
    Column("citations", Text, nullable=False),
    Column("contacts", Text, nullable=False),
    Column("category", String(60), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("abstained", Boolean, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("feedback", String(8)),
    Column("approved_id", Integer),
    Column("feedback_comment", Text),  # migration 5; screened
)
inquiries = Table(
    "inquiries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(20), unique=True),
    Column("created", Float, nullable=False, index=True),
    Column("updated", Float, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("conversation_id", String(64)),
    Column("name", String(200), nullable=False),  # screened, like every free-text field
    Column("organisation", String(200), nullable=False),
    Column("phone", String(40)),
    Column("email", String(200)),
    Column("note", Text, nullable=False),
    Column("transcript", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("category", String(60), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("suggested_department", String(200)),
    Column("assigned_to", String(100)),
    Column("reply", Text),
    Column("reply_approved", Boolean, nullable=False, default=False),
    Column("client_key", String(64)),  # migration 2: who escalated (an opaque key), for burst flags
)
client_recent = Index("ix_inquiries_client_created", inquiries.c.client_key, inquiries.c.created)
# The open (not resolved) inquiry of each conversation. Its primary key is the guarantee of one open inquiry per
# conversation on every database (a partial unique index is not portable); the row goes when the inquiry is resolved.
open_escalations = Table("open_escalations", metadata,
                         Column("conversation_id", String(64), primary_key=True),
                         Column("inquiry_id", Integer, ForeignKey("inquiries.id"), nullable=False))
notes = Table("inquiry_notes", metadata,
              Column("id", Integer, primary_key=True, autoincrement=True),
              Column("inquiry_id", Integer, ForeignKey("inquiries.id"), nullable=False, index=True),
              Column("author", String(100), nullable=False), Column("text", Text, nullable=False),
              Column("created", Float, nullable=False))
tokens = Table("staff_tokens", metadata,
               Column("id", Integer, primary_key=True, autoincrement=True),
               Column("name", String(100), nullable=False), Column("token_hash", String(64), unique=True),
               Column("admin", Boolean, nullable=False), Column("created", Float, nullable=False),
               Column("revoked", Boolean, nullable=False, default=False),
               Column("revoked_at", Float))  # migration 4
approved_answers = Table("approved_answers", metadata,
                 Column("id", Integer, primary_key=True, autoincrement=True),
                 Column("inquiry_id", Integer, ForeignKey("inquiries.id"), nullable=False),
                 Column("question", Text, nullable=False), Column("question_key", Text, nullable=False, index=True),
                 Column("answer", Text, nullable=False), Column("citations", Text, nullable=False),
                 Column("author", String(100), nullable=False), Column("created", Float, nullable=False),
                 Column("active", Boolean, nullable=False, default=True))
audit = Table("audit_log", metadata,
              Column("id", Integer, primary_key=True, autoincrement=True),
              Column("created", Float, nullable=False), Column("actor", String(100), nullable=False),
              Column("action", String(60), nullable=False), Column("inquiry_id", Integer),
              Column("detail", Text, nullable=False))


# ---------------------------------------------------------------- migrations
#
# Migration 1 creates the tables as they are defined above. Each later one brings a database made by an earlier
# version to the same shape and is a no-op where its change is already there, so a fresh database and an upgraded
# one end identical, and a step that a database without transactional DDL applied half-way can run again.


def _add_column(conn: Connection, table: Table, name: str) -> None:
    if name in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        return
    preparer = conn.dialect.identifier_preparer
    column = CreateColumn(table.c[name]).compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {column}"))


def _create_tables(conn: Connection) -> None:
    metadata.create_all(conn)


def _add_client_key(conn: Connection) -> None:
    _add_column(conn, inquiries, "client_key")
    client_recent.create(conn, checkfirst=True)


def _add_open_escalations(conn: Connection) -> None:
    metadata.create_all(conn, tables=[open_escalations])
    # a database from version 1 may hold several open inquiries of one conversation: the newest is the open one
    newest_open = (select(inquiries.c.conversation_id, func.max(inquiries.c.id))
                   .where(inquiries.c.conversation_id.is_not(None), inquiries.c.status != "resolved")
                   .group_by(inquiries.c.conversation_id))
    conn.execute(insert(open_escalations).from_select(["conversation_id", "inquiry_id"], newest_open))


def _add_revoked_at(conn: Connection) -> None:
    _add_column(conn, tokens, "revoked_at")


def _add_feedback_comment(conn: Connection) -> None:
    _add_column(conn, turns, "feedback_comment")


# Numbered migrations; each runs once, in order, on start, in its own transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "create tables", _create_tables),
    (2, "inquiries.client_key and its index (burst flags)", _add_client_key),
    (3, "open_escalations: one open inquiry per conversation", _add_open_escalations),
    (4, "staff_tokens.revoked_at", _add_revoked_at),
    (5, "turns.feedback_comment", _add_feedback_comment),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class Staff:
    name: str
    admin: bool


def question_key(text: str) -> str:
    """A comparison key for "the same or a near-identical question": lower-case words, stopwords and
    punctuation dropped, sorted."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    small = {"a", "an", "the", "do", "i", "we", "to", "of", "for", "is", "my", "our", "what", "please", "can"}
    return " ".join(sorted({w for w in words if w not in small}))


def similar(a: str, b: str) -> float:
    wa, wb = set(a.split()), set(b.split())
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reference_of(inquiry_id: int) -> str:
    return f"PR-{int(inquiry_id):06d}"


def _client_key(client: str | None) -> str | None:
    """The key as given when it fits the column, else its hash (the server passes a short hash already)."""
    if not client:
        return None
    return client if len(client) <= 64 else hashlib.sha256(client.encode()).hexdigest()


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


class TriageStore:
    """The triage database. Thread-safe: every call takes its own connection from the engine's pool."""

    def __init__(self, url: str, *, burst_after: int = BURST_AFTER) -> None:
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)
        self.burst_after = burst_after
        # The service sets the screen that knows the plan's own words and printed contacts; without it the
        # default screen assumes nothing about the plan.
        self.phi: PhiScreen | None = None
        if url.startswith("sqlite"):
            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cur = dbapi_connection.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
        self.migrate()

    @classmethod
    def from_settings(cls, settings: Settings) -> TriageStore:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.database_url or f"sqlite:///{settings.data_dir / 'triage.sqlite3'}",
                   burst_after=settings.burst_inquiries)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """A transaction that holds SQLite's write lock from its first statement, so that a check and the write
        that follows cannot interleave with another process doing the same (and SQLite's DDL stays inside it)."""
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _redact(self, value: str) -> str:
        return (screen(value, self.phi) if self.phi is not None else screen(value)).redacted

    def migrate(self) -> int:
        """Apply the migrations not applied yet, each in its own transaction; returns the schema version."""
        try:
            with self._locked() as conn:
                metadata.create_all(conn, tables=[schema_version])
        except DBAPIError:
            if not inspect(self.engine).has_table(schema_version.name):
                raise
        for number, _name, step in MIGRATIONS:
            try:
                with self._locked() as conn:
                    if self._applied(conn, number):
                        continue
                    step(conn)
                    conn.execute(insert(schema_version).values(version=number, applied_at=time.time()))
            except DBAPIError:
                # Two processes starting on one PostgreSQL database at once both run the step; the second fails
                # once the first commits, and then finds it applied.
                with self.engine.connect() as conn:
                    if not self._applied(conn, number):
                        raise
        return SCHEMA_VERSION

    @staticmethod
    def _applied(conn: Connection, number: int) -> bool:
        found = conn.execute(select(schema_version.c.version).where(schema_version.c.version == number)).first()
        return found is not None

    # ---------------------------------------------------------------- turns and feedback

    def record_turn(self, answer: dict[str, Any], question: str) -> None:
        """Keep an answered turn for analytics and escalation (the question is stored redacted)."""
        with self._tx() as conn:
            conn.execute(insert(turns).values(
                message_id=answer["message_id"], conversation_id=answer["conversation_id"], created=time.time(),
                question=self._redact(question), answer=answer["answer"], citations=json.dumps(answer["citations"]),
                contacts=json.dumps(answer["contacts"]), category=answer.get("category", "general"),
                urgent=bool(answer.get("urgent")), abstained=bool(answer.get("abstained")),
                confidence=float(answer.get("confidence") or 0.0), approved_id=answer.get("approved_id")))

    def record_feedback(self, message_id: str, rating: str, comment: str | None = None) -> None:
        """Rate an answered turn. One rating per answer: a repeat replaces the rating and the comment."""
        if rating not in RATINGS:
            raise InvalidRequest(f"rating must be one of {', '.join(RATINGS)}", "rating")
        with self._tx() as conn:
            rated = conn.execute(update(turns).where(turns.c.message_id == message_id).values(
                feedback=rating, feedback_comment=self._redact(comment) if comment else None)).rowcount
        if not rated:
            raise NotFound(f"no answer {message_id}")

    def feedback_counts(self) -> dict[str, int]:
        """Answers rated up and down (each answer counted once, with its latest rating)."""
        with self._tx() as conn:
            rows = conn.execute(select(turns.c.feedback, func.count()).where(turns.c.feedback.is_not(None))
                                .group_by(turns.c.feedback)).all()
        counted: dict[str, int] = {str(r[0]): int(r[1]) for r in rows}
        return {rating: counted.get(rating, 0) for rating in RATINGS}

    def conversation_turns(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(select(turns).where(turns.c.conversation_id == conversation_id)
                                .order_by(turns.c.created)).mappings().all()
        return [_turn(r) for r in rows]

    def _transcript(self, conversation_id: str) -> tuple[list[dict[str, Any]], bool]:
        """The conversation's last turns as an inquiry keeps them, and whether any turn of it was urgent."""
        with self._tx() as conn:
            rows = conn.execute(select(turns).where(turns.c.conversation_id == conversation_id)
                                .order_by(turns.c.created.desc()).limit(TRANSCRIPT_TURNS)).mappings().all()
            urgent = conn.execute(select(func.count()).select_from(turns).where(
                turns.c.conversation_id == conversation_id, turns.c.urgent.is_(True))).scalar_one()
        return [_capped(_turn(r)) for r in reversed(rows)], bool(urgent)

    # ---------------------------------------------------------------- inquiries

    def escalate(self, *, conversation_id: str | None, name: str, organisation: str, phone: str | None,
                 email: str | None, note: str, client: str | None = None) -> dict[str, Any]:
        """Create an inquiry with the conversation's transcript and evidence; returns its id and reference, and
        ``existing``: true when the conversation already had an open inquiry, which is returned instead."""
        key = _client_key(client)
        transcript, urgent = self._transcript(conversation_id) if conversation_id else ([], False)
        last_error: IntegrityError | None = None
        for _attempt in range(5):
            if conversation_id:
                found = self._open_inquiry(conversation_id)
                if found is not None:
                    return self._repeat(found, key, note)
            try:
                return self._create_inquiry(conversation_id, name, organisation, phone, email, note, key,
                                            transcript, urgent)
            except IntegrityError as exc:  # another escalation of the conversation committed first
                last_error = exc
        assert last_error is not None
        raise last_error

    def _open_inquiry(self, conversation_id: str) -> tuple[int, str] | None:
        with self._tx() as conn:
            row = conn.execute(select(inquiries.c.id, inquiries.c.reference)
                               .join(open_escalations, open_escalations.c.inquiry_id == inquiries.c.id)
                               .where(open_escalations.c.conversation_id == conversation_id)).first()
        return (int(row[0]), str(row[1])) if row else None

    def _repeat(self, found: tuple[int, str], client_key: str | None, note: str) -> dict[str, Any]:
        inquiry_id, reference = found
        detail: dict[str, Any] = {"reference": reference, "client": client_key}
        if note.strip():
            detail["note"] = self._redact(note)  # what the provider wrote again is kept, screened
        with self._tx() as conn:
            conn.execute(insert(audit).values(created=time.time(), actor="provider", action="escalate_repeat",
                                              inquiry_id=inquiry_id, detail=json.dumps(detail)))
        return {"id": inquiry_id, "reference": reference, "existing": True}

    def _create_inquiry(self, conversation_id: str | None, name: str, organisation: str, phone: str | None,
                        email: str | None, note: str, client_key: str | None, transcript: list[dict[str, Any]],
                        urgent: bool) -> dict[str, Any]:
        evidence = [c for t in transcript for c in t["citations"]]
        last = transcript[-1] if transcript else None
        suggested = last["contacts"][0].get("department") if last and last["contacts"] else None
        now = time.time()
        with self._tx() as conn:
            result = conn.execute(insert(inquiries).values(
                created=now, updated=now, status="new", conversation_id=conversation_id, name=self._redact(name),
                organisation=self._redact(organisation), phone=phone, email=email, note=self._redact(note),
                transcript=json.dumps(transcript), evidence=json.dumps(evidence),
                category=last["category"] if last else "general", urgent=urgent,
                suggested_department=suggested, reply_approved=False, client_key=client_key))
            assert result.inserted_primary_key is not None
            inquiry_id = int(result.inserted_primary_key[0])
            if conversation_id:  # fails here, rolling the inquiry back, when the conversation has an open one
                conn.execute(insert(open_escalations).values(conversation_id=conversation_id, inquiry_id=inquiry_id))
            reference = reference_of(inquiry_id)
            conn.execute(update(inquiries).where(inquiries.c.id == inquiry_id).values(reference=reference))
            conn.execute(insert(audit).values(created=now, actor="provider", action="escalate",
                                              inquiry_id=inquiry_id, detail=json.dumps({"reference": reference})))
        return {"id": inquiry_id, "reference": reference, "existing": False}

    def _burst(self) -> Label[int]:
        """1 when the inquiry's client made more than ``burst_after`` inquiries within the hour before it (itself
        included), else 0. Computed in the query, so that ordering and paging by it stay exact."""
        earlier = inquiries.alias("earlier")
        recent = (select(func.count()).select_from(earlier)
                  .where(earlier.c.client_key == inquiries.c.client_key,
                         earlier.c.created <= inquiries.c.created,
                         earlier.c.created >= inquiries.c.created - BURST_WINDOW_SECONDS)
                  .correlate(inquiries).scalar_subquery())
        return case((recent > self.burst_after, 1), else_=0).label("burst")

    @staticmethod
    def _filters(status: str | None, category: str | None, urgent: bool | None, max_age_days: float | None,
                 text: str | None) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if status:
            where.append(inquiries.c.status == status)
        if category:
            where.append(inquiries.c.category == category)
        if urgent is not None:
            where.append(inquiries.c.urgent.is_(urgent))
        if max_age_days is not None:
            where.append(inquiries.c.created >= time.time() - max_age_days * 86400)
        if text:
            like = _like(text)
            where.append(or_(*(column.ilike(like, escape="\\") for column in (
                inquiries.c.note, inquiries.c.transcript, inquiries.c.organisation, inquiries.c.name,
                inquiries.c.reference))))
        return where

    def list_inquiries(self, *, status: str | None = None, category: str | None = None, urgent: bool | None = None,
                       max_age_days: float | None = None, text: str | None = None, limit: int = 50,
                       offset: int = 0) -> list[dict[str, Any]]:
        """One page of the queue (at most 200): inquiries not flagged as a burst first, then the burst-flagged
        ones; within each, urgent first, then newest."""
        limit, offset = max(1, min(int(limit), MAX_PAGE)), max(0, int(offset))
        burst = self._burst()
        query = (select(inquiries, burst).where(*self._filters(status, category, urgent, max_age_days, text))
                 .order_by(burst, inquiries.c.urgent.desc(), inquiries.c.created.desc(), inquiries.c.id.desc())
                 .limit(limit).offset(offset))
        with self._tx() as conn:
            return [_summary(r) for r in conn.execute(query).mappings().all()]

    def count_inquiries(self, *, status: str | None = None, category: str | None = None, urgent: bool | None = None,
                        max_age_days: float | None = None, text: str | None = None) -> int:
        """How many inquiries the same filters match (all pages)."""
        query = (select(func.count()).select_from(inquiries)
                 .where(*self._filters(status, category, urgent, max_age_days, text)))
        with self._tx() as conn:
            return int(conn.execute(query).scalar_one())

    def inquiry_id(self, reference: str) -> int:
        """The id of an inquiry named by its id ("123") or its reference ("PR-000123")."""
        digits = re.fullmatch(r"(?:PR-)?0*(\d{1,12})", reference.strip(), re.IGNORECASE)
        if digits is None:
            raise NotFound(f"no inquiry {reference}")
        with self._tx() as conn:
            found = conn.execute(select(inquiries.c.id).where(inquiries.c.id == int(digits.group(1)))).scalar()
        if found is None:
            raise NotFound(f"no inquiry {reference}")
        return int(found)

    def get(self, inquiry_id: int) -> dict[str, Any]:
        with self._tx() as conn:
            row = conn.execute(select(inquiries, self._burst()).where(inquiries.c.id == inquiry_id)).mappings().first()
            if row is None:
                raise NotFound(f"no inquiry {inquiry_id}")
            inquiry_notes = conn.execute(select(notes).where(notes.c.inquiry_id == inquiry_id)
                                         .order_by(notes.c.created, notes.c.id)).mappings().all()
            log = conn.execute(select(audit).where(audit.c.inquiry_id == inquiry_id)
                               .order_by(audit.c.created, audit.c.id)).mappings().all()
        out = _summary(row)
        out.update(phone=row["phone"], email=row["email"], transcript=json.loads(row["transcript"]),
                   evidence=json.loads(row["evidence"]), reply=row["reply"],
                   notes=[{"author": n["author"], "text": n["text"], "created": _iso(n["created"])}
                          for n in inquiry_notes],
                   audit=[{"actor": a["actor"], "action": a["action"], "detail": json.loads(a["detail"]),
                           "created": _iso(a["created"])} for a in log])
        return out

    def update(self, inquiry_id: int, staff: Staff, *, status: str | None = None, assigned_to: str | None = None,
               note: str | None = None, reply: str | None = None, approved: bool | None = None) -> dict[str, Any]:
        """Staff actions on one inquiry, each written to the audit log. ``approved``: True serves the reply (given
        now or stored) as the approved answer; False withdraws every approved answer of the inquiry; None leaves
        approval as it is, except that a changed reply ends the approval of the old one."""
        current = self.get(inquiry_id)
        if status is not None and status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}", "status")
        changes: dict[str, Any] = {}
        if status is not None and status != current["status"]:
            changes["status"] = status
        if assigned_to is not None and assigned_to != current["assigned_to"]:
            changes["assigned_to"] = assigned_to
        screened = self._redact(reply) if reply is not None else None
        if screened is not None and screened != current["reply"]:
            changes["reply"] = screened
        answer = changes.get("reply", current["reply"])
        if approved and not answer:
            raise InvalidRequest("an approved answer needs a reply", "reply")
        if approved and not current["transcript"]:
            raise InvalidRequest("this inquiry has no conversation, so no question to serve the reply for",
                                 "approved")
        # The served answer must be the reply staff see as approved: new text is never served unapproved.
        withdraw = ((approved is False and (current["reply_approved"] or self._serves_answer(inquiry_id)))
                    or (approved is None and "reply" in changes and current["reply_approved"]))
        if not (changes or note or approved or withdraw):
            return current
        now = time.time()
        with self._tx() as conn:
            flags = {"reply_approved": True} if approved else {"reply_approved": False} if withdraw else {}
            conn.execute(update(inquiries).where(inquiries.c.id == inquiry_id).values(updated=now, **changes,
                                                                                      **flags))
            if changes:
                conn.execute(insert(audit).values(created=now, actor=staff.name, action="update",
                                                  inquiry_id=inquiry_id, detail=json.dumps(changes)))
            if changes.get("status") == "resolved":
                conn.execute(delete(open_escalations).where(open_escalations.c.inquiry_id == inquiry_id))
            if note:
                conn.execute(insert(notes).values(inquiry_id=inquiry_id, author=staff.name, text=self._redact(note),
                                                  created=now))
                conn.execute(insert(audit).values(created=now, actor=staff.name, action="note",
                                                  inquiry_id=inquiry_id, detail="{}"))
            if withdraw:
                reason = "withdrawn" if approved is False else "reply changed"
                _withdraw(conn, inquiry_id, staff.name, now, was_approved=current["reply_approved"], reason=reason)
            if approved:
                last = current["transcript"][-1]
                # the reply keeps only the sources it cites by their [n] marks
                cited = [c for c in last["citations"] if f"[{c['n']}]" in answer]
                conn.execute(update(approved_answers).where(approved_answers.c.inquiry_id == inquiry_id)
                             .values(active=False))
                conn.execute(insert(approved_answers).values(
                    inquiry_id=inquiry_id, question=last["question"], question_key=question_key(last["question"]),
                    answer=answer, citations=json.dumps(cited), author=staff.name, created=now, active=True))
                conn.execute(insert(audit).values(created=now, actor=staff.name, action="approve_answer",
                                                  inquiry_id=inquiry_id,
                                                  detail=json.dumps({"question": last["question"]})))
        if current["status"] == "resolved" and changes.get("status") not in (None, "resolved"):
            self._reopen(current["conversation_id"], inquiry_id)
        return self.get(inquiry_id)

    def _reopen(self, conversation_id: str | None, inquiry_id: int) -> None:
        """A reopened inquiry becomes its conversation's open one again, unless a newer one is open by now."""
        if not conversation_id:
            return
        try:
            with self._tx() as conn:
                conn.execute(insert(open_escalations).values(conversation_id=conversation_id, inquiry_id=inquiry_id))
        except IntegrityError:
            return  # the newer open inquiry keeps receiving the conversation's repeats

    # ---------------------------------------------------------------- approved answers

    def _serves_answer(self, inquiry_id: int) -> bool:
        with self._tx() as conn:
            found = conn.execute(select(approved_answers.c.id).where(approved_answers.c.inquiry_id == inquiry_id,
                                                                     approved_answers.c.active.is_(True))).first()
        return found is not None

    def withdraw_approved(self, inquiry_id: int, actor: str) -> int:
        """Stop serving the inquiry's approved answers; returns how many were active."""
        current = self.get(inquiry_id)
        now = time.time()
        with self._tx() as conn:
            conn.execute(update(inquiries).where(inquiries.c.id == inquiry_id)
                         .values(updated=now, reply_approved=False))
            return _withdraw(conn, inquiry_id, actor, now, was_approved=current["reply_approved"], reason="withdrawn")

    def approved_answer(self, question: str, threshold: float = 0.8) -> dict[str, Any] | None:
        """An active answer provider relations approved for this question or a near-identical one."""
        key = question_key(self._redact(question))
        with self._tx() as conn:
            rows = conn.execute(select(approved_answers).where(approved_answers.c.active.is_(True))
                                .order_by(approved_answers.c.created.desc())).mappings().all()
        best = max(rows, key=lambda r: similar(key, r["question_key"]), default=None)
        if best is None or similar(key, best["question_key"]) < threshold:
            return None
        return {"id": best["id"], "answer": best["answer"], "citations": json.loads(best["citations"]),
                "author": best["author"], "created": _iso(best["created"])}

    # ---------------------------------------------------------------- staff tokens and the audit log

    def add_token(self, name: str, admin: bool = False, actor: str = "cli") -> str:
        """A new bearer token (shown once; only its hash is stored). ``actor``: who made it, for the audit log."""
        token = "pat_" + secrets.token_urlsafe(24)
        now = time.time()
        with self._tx() as conn:
            result = conn.execute(insert(tokens).values(name=name, token_hash=hash_token(token), admin=admin,
                                                        created=now, revoked=False))
            assert result.inserted_primary_key is not None
            detail = {"id": int(result.inserted_primary_key[0]), "name": name, "admin": admin}
            conn.execute(insert(audit).values(created=now, actor=actor, action="add_token", detail=json.dumps(detail)))
        return token

    def revoke_token(self, token_id: int, actor: str) -> dict[str, Any]:
        """Revoke a token for good (its sign-ins fail from now on); revoking it again changes nothing."""
        now = time.time()
        with self._tx() as conn:
            revoked = conn.execute(update(tokens).where(tokens.c.id == token_id, tokens.c.revoked.is_(False))
                                   .values(revoked=True, revoked_at=now)).rowcount
            row = conn.execute(select(tokens).where(tokens.c.id == token_id)).mappings().first()
            if row is None:
                raise NotFound(f"no token {token_id}")
            if revoked:
                conn.execute(insert(audit).values(created=now, actor=actor, action="revoke_token",
                                                  detail=json.dumps({"id": token_id, "name": row["name"]})))
        return _token(row)

    def authenticate(self, token: str | None, client: str | None = None) -> Staff:
        """The staff member a bearer token belongs to. A failed sign-in is audited (never with the token) and
        raises Unauthorized; ``client`` is the caller's opaque key."""
        if not token:
            self._auth_failed(client, "missing")
            raise Unauthorized("a staff bearer token is required")
        with self._tx() as conn:
            row = conn.execute(select(tokens).where(tokens.c.token_hash == hash_token(token))).mappings().first()
        if row is None:
            self._auth_failed(client, "invalid")
            raise Unauthorized("the token is not valid")
        if row["revoked"]:
            self._auth_failed(client, "revoked")
            raise Unauthorized("the token has been revoked")
        return Staff(row["name"], bool(row["admin"]))

    def _auth_failed(self, client: str | None, reason: str) -> None:
        with self._tx() as conn:
            conn.execute(insert(audit).values(created=time.time(), actor="unknown", action="auth_failed",
                                              detail=json.dumps({"client": client, "reason": reason})))

    def list_tokens(self) -> list[dict[str, Any]]:
        with self._tx() as conn:
            return [_token(r) for r in conn.execute(select(tokens).order_by(tokens.c.id)).mappings().all()]

    def audit_action(self, staff: Staff, action: str, detail: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(insert(audit).values(created=time.time(), actor=staff.name, action=action,
                                              detail=json.dumps(detail)))

    def audit_log(self, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        """The audit log, newest first, one page (at most 1,000 entries)."""
        limit, offset = max(1, min(int(limit), MAX_AUDIT_PAGE)), max(0, int(offset))
        with self._tx() as conn:
            rows = conn.execute(select(audit).order_by(audit.c.id.desc()).limit(limit).offset(offset)).mappings().all()
        return [{"id": r["id"], "created": _iso(r["created"]), "actor": r["actor"], "action": r["action"],
                 "inquiry_id": r["inquiry_id"], "detail": json.loads(r["detail"])} for r in rows]

    # ---------------------------------------------------------------- analytics and export

    def analytics(self, days: int = 30) -> dict[str, Any]:
        since = time.time() - days * 86400
        with self._tx() as conn:
            rows = conn.execute(select(turns.c.created, turns.c.abstained, turns.c.feedback, turns.c.question)
                                .where(turns.c.created >= since)).all()
            by_category: dict[str, int] = dict(conn.execute(select(inquiries.c.category, func.count())
                                            .group_by(inquiries.c.category)).all())
        per_day = Counter(dt.datetime.fromtimestamp(r[0], dt.UTC).date().isoformat() for r in rows)
        unanswered = Counter(r[3] for r in rows if r[1])
        rated = [r for r in rows if r[2]]  # one rating per answer: a repeat replaced the earlier one
        return {"days": days, "questions": len(rows), "questions_per_day": dict(sorted(per_day.items())),
                "abstention_rate": (sum(1 for r in rows if r[1]) / len(rows)) if rows else 0.0,
                "thumbs_down_rate": (sum(1 for r in rated if r[2] == "down") / len(rated)) if rated else 0.0,
                "feedback": {rating: sum(1 for r in rated if r[2] == rating) for rating in RATINGS},
                "top_unanswered": [{"question": q, "count": n} for q, n in unanswered.most_common(10)],
                "inquiries_by_category": by_category}

    def export_eval_questions(self) -> list[dict[str, Any]]:
        """Evaluation questions (evals/questions format) from resolved inquiries with a reply and from
        thumbs-down answers: each corrected mistake becomes a regression test."""
        out: list[dict[str, Any]] = []
        with self._tx() as conn:
            resolved = conn.execute(select(inquiries).where(inquiries.c.status == "resolved",
                                                            inquiries.c.reply.is_not(None))).mappings().all()
            down = conn.execute(select(turns).where(turns.c.feedback == "down")).mappings().all()
        for r in resolved:
            transcript = json.loads(r["transcript"])
            if not transcript:
                continue
            last = transcript[-1]
            gold = [{"doc_id": c["doc_id"], "section": c["section"].split(" ")[0] or c["section"]}
                    for c in last["citations"] if c.get("section")]
            out.append(_eval_row(f"inquiry-{r['reference']}", last["question"], gold, _terms(r["reply"]),
                                 abstain=not gold))
        for t in down:
            # Not corrected yet: the check is that the answer a provider rejected does not come back.
            disputed = re.sub(r"\s*\[\d+\]", "", t["answer"]).split(". ")[0].strip()
            row = _eval_row(f"feedback-{t['message_id']}", t["question"], [], [], abstain=False)
            out.append({**row, "kind": "feedback", "forbidden": [disputed] if disputed else []})
        return out


def _withdraw(conn: Connection, inquiry_id: int, actor: str, now: float, *, was_approved: bool, reason: str) -> int:
    """Deactivate the inquiry's approved answers (the assistant stops serving them); audited when any was."""
    withdrawn = int(conn.execute(update(approved_answers).where(approved_answers.c.inquiry_id == inquiry_id,
                                                                approved_answers.c.active.is_(True))
                                 .values(active=False)).rowcount)
    if withdrawn or was_approved:
        conn.execute(insert(audit).values(created=now, actor=actor, action="withdraw_answer", inquiry_id=inquiry_id,
                                          detail=json.dumps({"answers": withdrawn, "reason": reason})))
    return withdrawn


# ---------------------------------------------------------------- CSV export

CSV_COLUMNS = ("reference", "created", "status", "urgent", "category", "organisation", "name", "suggested_department",
               "assigned_to", "note", "burst")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula gets a leading quote (OWASP CSV injection)."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def inquiries_csv(rows: list[dict[str, Any]]) -> str:
    """The queue as CSV (the columns of ``CSV_COLUMNS``), every cell neutralised against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_cell(row.get(column)) for column in CSV_COLUMNS] for row in rows)
    return buffer.getvalue()


def _terms(reply: str) -> list[str]:
    """Short strings a corrected answer must contain: the contacts and numbers-with-units in the reply."""
    found = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b\d{3}-\d{3}-\d{4}\b|\b\d+\s+(?:calendar |business )?"
                       r"(?:days|hours|months)\b", reply)
    return list(dict.fromkeys(found))[:3]


def _eval_row(qid: str, question: str, gold: Sequence[dict[str, str]], terms: list[str], *,
              abstain: bool) -> dict[str, Any]:
    return {"id": qid, "kind": "unanswerable" if abstain else "fact", "question": question, "conversation": None,
            "turn": None, "gold": list(gold), "answer_terms": terms if not abstain else [], "contacts": [],
            "abstain": abstain, "urgent": False, "phi": [], "forbidden": [], "region": None, "paraphrased": False}


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def _turn(r: Any) -> dict[str, Any]:
    return {"message_id": r["message_id"], "question": r["question"], "answer": r["answer"],
            "citations": json.loads(r["citations"]), "contacts": json.loads(r["contacts"]),
            "category": r["category"], "urgent": bool(r["urgent"]), "abstained": bool(r["abstained"]),
            "confidence": r["confidence"], "feedback": r["feedback"], "created": _iso(r["created"])}


def _capped(turn: dict[str, Any]) -> dict[str, Any]:
    return {**turn, "answer": turn["answer"][:ANSWER_CHARS], "citations": turn["citations"][:CITATIONS_PER_TURN]}


def _token(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "name": r["name"], "admin": bool(r["admin"]), "created": _iso(r["created"]),
            "revoked": bool(r["revoked"]), "revoked_at": _iso(r["revoked_at"]) if r["revoked_at"] else None}


def _summary(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "reference": r["reference"], "created": _iso(r["created"]), "updated": _iso(r["updated"]),
            "status": r["status"], "name": r["name"], "organisation": r["organisation"], "note": r["note"],
            "category": r["category"], "urgent": bool(r["urgent"]), "burst": bool(r["burst"]),
            "suggested_department": r["suggested_department"], "assigned_to": r["assigned_to"],
            "reply_approved": bool(r["reply_approved"]), "conversation_id": r["conversation_id"]}
