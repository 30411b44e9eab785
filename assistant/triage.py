"""Provider-relations triage: every answered turn, escalated inquiries, staff tokens, notes, approved
answers and the audit log. The only module that imports SQLAlchemy.

SQLite in the data dir by default (WAL, safe for concurrent writers); any SQLAlchemy URL
(``PA_DATABASE_URL``) for a shared deployment. Migrations are numbered and run on start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from assistant.errors import NotFound, Unauthorized
from assistant.safety import screen
from assistant.settings import Settings

STATUSES = ("new", "in_progress", "resolved")
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
)
inquiries = Table(
    "inquiries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(20), unique=True),
    Column("created", Float, nullable=False, index=True),
    Column("updated", Float, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("conversation_id", String(64)),
    Column("name", String(200), nullable=False),
    Column("organisation", String(200), nullable=False),
    Column("phone", String(40)),
    Column("email", String(200)),
    Column("note", Text, nullable=False),  # member identifiers redacted
    Column("transcript", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("category", String(60), nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("suggested_department", String(200)),
    Column("assigned_to", String(100)),
    Column("reply", Text),
    Column("reply_approved", Boolean, nullable=False, default=False),
)
notes = Table("inquiry_notes", metadata,
              Column("id", Integer, primary_key=True, autoincrement=True),
              Column("inquiry_id", Integer, ForeignKey("inquiries.id"), nullable=False, index=True),
              Column("author", String(100), nullable=False), Column("text", Text, nullable=False),
              Column("created", Float, nullable=False))
tokens = Table("staff_tokens", metadata,
               Column("id", Integer, primary_key=True, autoincrement=True),
               Column("name", String(100), nullable=False), Column("token_hash", String(64), unique=True),
               Column("admin", Boolean, nullable=False), Column("created", Float, nullable=False),
               Column("revoked", Boolean, nullable=False, default=False))
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

# Numbered migrations; each runs once, in order, on start. Version 1 is the schema above.
MIGRATIONS: list[tuple[int, str]] = [(1, "create tables")]


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


def _redact(text: str) -> str:
    return screen(text).redacted


class TriageStore:
    """The triage database. Thread-safe: every call takes its own connection from the engine's pool."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
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
        return cls(settings.database_url or f"sqlite:///{settings.data_dir / 'triage.sqlite3'}")

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def migrate(self) -> int:
        """Apply the migrations not applied yet; returns the schema version."""
        metadata.create_all(self.engine, tables=[schema_version])
        with self._tx() as conn:
            done = {r[0] for r in conn.execute(select(schema_version.c.version))}
            for number, _name in MIGRATIONS:
                if number in done:
                    continue
                if number == 1:
                    metadata.create_all(conn)
                conn.execute(insert(schema_version).values(version=number, applied_at=time.time()))
        return max(n for n, _ in MIGRATIONS)

    # ---------------------------------------------------------------- turns and feedback

    def record_turn(self, answer: dict[str, Any], question: str) -> None:
        """Keep an answered turn for analytics and escalation (the question is stored redacted)."""
        with self._tx() as conn:
            conn.execute(insert(turns).values(
                message_id=answer["message_id"], conversation_id=answer["conversation_id"], created=time.time(),
                question=_redact(question), answer=answer["answer"], citations=json.dumps(answer["citations"]),
                contacts=json.dumps(answer["contacts"]), category=answer.get("category", "general"),
                urgent=bool(answer.get("urgent")), abstained=bool(answer.get("abstained")),
                confidence=float(answer.get("confidence") or 0.0), approved_id=answer.get("approved_id")))

    def record_feedback(self, message_id: str, rating: str) -> None:
        with self._tx() as conn:
            conn.execute(update(turns).where(turns.c.message_id == message_id).values(feedback=rating))

    def conversation_turns(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = conn.execute(select(turns).where(turns.c.conversation_id == conversation_id)
                                .order_by(turns.c.created)).mappings().all()
        return [_turn(r) for r in rows]

    # ---------------------------------------------------------------- inquiries

    def escalate(self, *, conversation_id: str | None, name: str, organisation: str, phone: str | None,
                 email: str | None, note: str) -> dict[str, Any]:
        """Create an inquiry with the conversation's transcript and evidence; returns its reference."""
        transcript = self.conversation_turns(conversation_id) if conversation_id else []
        evidence = [c for t in transcript for c in t["citations"]]
        last = transcript[-1] if transcript else None
        suggested = None
        if last and last["contacts"]:
            suggested = last["contacts"][0].get("department")
        now = time.time()
        with self._tx() as conn:
            result = conn.execute(insert(inquiries).values(
                created=now, updated=now, status="new", conversation_id=conversation_id, name=name,
                organisation=organisation, phone=phone, email=email, note=_redact(note),
                transcript=json.dumps(transcript), evidence=json.dumps(evidence),
                category=last["category"] if last else "general", urgent=any(t["urgent"] for t in transcript),
                suggested_department=suggested, reply_approved=False))
            assert result.inserted_primary_key is not None
            inquiry_id = result.inserted_primary_key[0]
            reference = f"PR-{int(inquiry_id):06d}"
            conn.execute(update(inquiries).where(inquiries.c.id == inquiry_id).values(reference=reference))
            conn.execute(insert(audit).values(created=now, actor="provider", action="escalate",
                                              inquiry_id=inquiry_id, detail=json.dumps({"reference": reference})))
        return {"id": int(inquiry_id), "reference": reference}

    def list_inquiries(self, *, status: str | None = None, category: str | None = None, urgent: bool | None = None,
                       max_age_days: float | None = None, text: str | None = None,
                       limit: int = 500) -> list[dict[str, Any]]:
        query = select(inquiries)
        if status:
            query = query.where(inquiries.c.status == status)
        if category:
            query = query.where(inquiries.c.category == category)
        if urgent is not None:
            query = query.where(inquiries.c.urgent == urgent)
        if max_age_days is not None:
            query = query.where(inquiries.c.created >= time.time() - max_age_days * 86400)
        if text:
            like = f"%{text}%"
            query = query.where(or_(inquiries.c.note.ilike(like), inquiries.c.transcript.ilike(like),
                                    inquiries.c.organisation.ilike(like), inquiries.c.name.ilike(like),
                                    inquiries.c.reference.ilike(like)))
        query = query.order_by(inquiries.c.urgent.desc(), inquiries.c.created.desc()).limit(limit)
        with self._tx() as conn:
            return [_summary(r) for r in conn.execute(query).mappings().all()]

    def get(self, inquiry_id: int) -> dict[str, Any]:
        with self._tx() as conn:
            row = conn.execute(select(inquiries).where(inquiries.c.id == inquiry_id)).mappings().first()
            if row is None:
                raise NotFound(f"no inquiry {inquiry_id}")
            inquiry_notes = conn.execute(select(notes).where(notes.c.inquiry_id == inquiry_id)
                                         .order_by(notes.c.created)).mappings().all()
            log = conn.execute(select(audit).where(audit.c.inquiry_id == inquiry_id)
                               .order_by(audit.c.created)).mappings().all()
        out = _summary(row)
        out.update(phone=row["phone"], email=row["email"], transcript=json.loads(row["transcript"]),
                   evidence=json.loads(row["evidence"]), reply=row["reply"],
                   notes=[{"author": n["author"], "text": n["text"], "created": _iso(n["created"])}
                          for n in inquiry_notes],
                   audit=[{"actor": a["actor"], "action": a["action"], "detail": json.loads(a["detail"]),
                           "created": _iso(a["created"])} for a in log])
        return out

    def update(self, inquiry_id: int, staff: Staff, *, status: str | None = None, assigned_to: str | None = None,
               note: str | None = None, reply: str | None = None, approved: bool = False) -> dict[str, Any]:
        """Staff actions on one inquiry, each written to the audit log."""
        current = self.get(inquiry_id)
        now = time.time()
        with self._tx() as conn:
            changes: dict[str, Any] = {}
            if status is not None:
                if status not in STATUSES:
                    raise ValueError(f"status must be one of {STATUSES}")
                changes["status"] = status
            if assigned_to is not None:
                changes["assigned_to"] = assigned_to
            if reply is not None:
                changes["reply"] = reply
                changes["reply_approved"] = approved
            if changes:
                conn.execute(update(inquiries).where(inquiries.c.id == inquiry_id).values(updated=now, **changes))
                conn.execute(insert(audit).values(created=now, actor=staff.name, action="update",
                                                  inquiry_id=inquiry_id, detail=json.dumps(changes)))
            if note:
                conn.execute(insert(notes).values(inquiry_id=inquiry_id, author=staff.name, text=_redact(note),
                                                  created=now))
                conn.execute(insert(audit).values(created=now, actor=staff.name, action="note",
                                                  inquiry_id=inquiry_id, detail="{}"))
            if reply is not None and approved and current["transcript"]:
                last = current["transcript"][-1]
                # the reply keeps only the sources it cites by their [n] marks
                cited = [c for c in last["citations"] if f"[{c['n']}]" in reply]
                conn.execute(update(approved_answers).where(approved_answers.c.inquiry_id == inquiry_id)
                             .values(active=False))
                conn.execute(insert(approved_answers).values(
                    inquiry_id=inquiry_id, question=last["question"], question_key=question_key(last["question"]),
                    answer=reply, citations=json.dumps(cited), author=staff.name, created=now,
                    active=True))
                conn.execute(insert(audit).values(created=now, actor=staff.name, action="approve_answer",
                                                  inquiry_id=inquiry_id,
                                                  detail=json.dumps({"question": last["question"]})))
        return self.get(inquiry_id)

    # ---------------------------------------------------------------- approved answers

    def approved_answer(self, question: str, threshold: float = 0.8) -> dict[str, Any] | None:
        """An answer provider relations approved for this question or a near-identical one."""
        key = question_key(_redact(question))
        with self._tx() as conn:
            rows = conn.execute(select(approved_answers).where(approved_answers.c.active.is_(True))
                                .order_by(approved_answers.c.created.desc())).mappings().all()
        best = max(rows, key=lambda r: similar(key, r["question_key"]), default=None)
        if best is None or similar(key, best["question_key"]) < threshold:
            return None
        return {"id": best["id"], "answer": best["answer"], "citations": json.loads(best["citations"]),
                "author": best["author"], "created": _iso(best["created"])}

    # ---------------------------------------------------------------- staff tokens

    def add_token(self, name: str, admin: bool = False) -> str:
        """A new bearer token (shown once; only its hash is stored)."""
        token = "pat_" + secrets.token_urlsafe(24)
        with self._tx() as conn:
            conn.execute(insert(tokens).values(name=name, token_hash=hash_token(token), admin=admin,
                                               created=time.time(), revoked=False))
            conn.execute(insert(audit).values(created=time.time(), actor="cli" if not admin else "admin",
                                              action="add_token", detail=json.dumps({"name": name, "admin": admin})))
        return token

    def authenticate(self, token: str | None) -> Staff:
        if not token:
            raise Unauthorized("a staff bearer token is required")
        with self._tx() as conn:
            row = conn.execute(select(tokens).where(tokens.c.token_hash == hash_token(token),
                                                    tokens.c.revoked.is_(False))).mappings().first()
        if row is None:
            raise Unauthorized("the token is not valid")
        return Staff(row["name"], bool(row["admin"]))

    def list_tokens(self) -> list[dict[str, Any]]:
        with self._tx() as conn:
            return [{"id": r["id"], "name": r["name"], "admin": r["admin"], "created": _iso(r["created"]),
                     "revoked": r["revoked"]} for r in conn.execute(select(tokens)).mappings().all()]

    def audit_action(self, staff: Staff, action: str, detail: dict[str, Any]) -> None:
        with self._tx() as conn:
            conn.execute(insert(audit).values(created=time.time(), actor=staff.name, action=action,
                                              detail=json.dumps(detail)))

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
        rated = [r for r in rows if r[2]]
        return {"days": days, "questions": len(rows), "questions_per_day": dict(sorted(per_day.items())),
                "abstention_rate": (sum(1 for r in rows if r[1]) / len(rows)) if rows else 0.0,
                "thumbs_down_rate": (sum(1 for r in rated if r[2] == "down") / len(rated)) if rated else 0.0,
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


def _summary(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "reference": r["reference"], "created": _iso(r["created"]), "updated": _iso(r["updated"]),
            "status": r["status"], "name": r["name"], "organisation": r["organisation"], "note": r["note"],
            "category": r["category"], "urgent": bool(r["urgent"]),
            "suggested_department": r["suggested_department"], "assigned_to": r["assigned_to"],
            "reply_approved": bool(r["reply_approved"]), "conversation_id": r["conversation_id"]}
