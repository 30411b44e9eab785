"""Staff triage: the inquiry store on real SQLite files, the staff API's auth, approved answers,
concurrent escalations against the running service, restarts, and member data kept out of storage
and logs."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
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
    inspect,
    update,
)

from assistant.errors import InvalidRequest, NotFound, Unauthorized
from assistant.index import IndexSnapshot
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.triage import (
    CSV_COLUMNS,
    SCHEMA_VERSION,
    Staff,
    TriageStore,
    csv_cell,
    hash_token,
    inquiries,
    inquiries_csv,
    question_key,
    similar,
)
from evals.questions import load_questions

ROOT = Path(__file__).resolve().parents[1]
PHI = ("Maria Gonzalez", "4/2/1980", "11223344", "123-45-6789")
# Identifiers any screen must catch by their form, whatever it knows about names.
IDENTIFIERS = ("123-45-6789", "11223344", "4/2/1980")
MEMBER = "SSN 123-45-6789, mbr# 11223344, DOB 4/2/1980"
# A PostgreSQL database the tests may empty, e.g. postgresql+psycopg://postgres@/triage_test?host=/tmp; the
# store tests parametrised with `database_url` run on it too when it is set.
POSTGRES_URL = os.environ.get("PA_TEST_POSTGRES_URL")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """The app served by uvicorn on 127.0.0.1 in a thread; restartable on the same data dir."""

    def __init__(self, settings: Settings, assistant: Assistant) -> None:
        self.settings, self.assistant = settings, assistant
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        from server import create_app

        self.assistant.approved = None  # the new app wires its own triage store
        app = create_app(self.settings, self.assistant)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        assert self.server.started

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.should_exit = True
        self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def service(corpus_index, real_embedder, tmp_path_factory):
    data = tmp_path_factory.mktemp("triage") / "data"
    shutil.copytree(corpus_index.settings.data_dir, data)
    # 200 escalations and dozens of refused sign-ins from one address: the per-client limits (tested with the
    # server) would refuse most of them, and these tests are about what the triage store keeps
    settings = Settings(data_dir=data, rate_limits={})
    svc = Service(settings, Assistant(settings, IndexSnapshot.open(settings), real_embedder))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def tokens(service):
    store = TriageStore.from_settings(service.settings)
    return {"admin": store.add_token("admin-ann", admin=True), "staff": store.add_token("staff-sam")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh triage database: a SQLite file, and the PostgreSQL one of PA_TEST_POSTGRES_URL when set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'triage.sqlite3'}"
    if not POSTGRES_URL:
        pytest.skip("PA_TEST_POSTGRES_URL is not set")
    engine = create_engine(POSTGRES_URL)
    existing = MetaData()
    existing.reflect(engine)
    existing.drop_all(engine)
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture
def open_store():
    """Opens TriageStores and closes their connection pools after the test (PostgreSQL counts connections)."""
    opened: list[TriageStore] = []

    def _open(url: str) -> TriageStore:
        opened.append(TriageStore(url))
        return opened[-1]

    yield _open
    for store in opened:
        store.engine.dispose()


def _v1_schema() -> MetaData:
    """The tables exactly as version 1 created them (before any later migration), kept here as history."""
    meta = MetaData()
    Table("schema_version", meta, Column("version", Integer, primary_key=True),
          Column("applied_at", Float, nullable=False))
    Table("turns", meta, Column("message_id", String(40), primary_key=True),
          Column("conversation_id", String(64), nullable=False, index=True),
          Column("created", Float, nullable=False, index=True),
          Column("question", Text, nullable=False), Column("answer", Text, nullable=False),
          Column("citations", Text, nullable=False), Column("contacts", Text, nullable=False),
          Column("category", String(60), nullable=False), Column("urgent", Boolean, nullable=False),
          Column("abstained", Boolean, nullable=False), Column("confidence", Float, nullable=False),
          Column("feedback", String(8)), Column("approved_id", Integer))
    Table("inquiries", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("reference", String(20), unique=True), Column("created", Float, nullable=False, index=True),
          Column("updated", Float, nullable=False), Column("status", String(20), nullable=False, index=True),
          Column("conversation_id", String(64)), Column("name", String(200), nullable=False),
          Column("organisation", String(200), nullable=False), Column("phone", String(40)),
          Column("email", String(200)),
          Column("note", Text, nullable=False), Column("transcript", Text, nullable=False),
          Column("evidence", Text, nullable=False), Column("category", String(60), nullable=False),
          Column("urgent", Boolean, nullable=False), Column("suggested_department", String(200)),
          Column("assigned_to", String(100)), Column("reply", Text),
          Column("reply_approved", Boolean, nullable=False, default=False))
    Table("inquiry_notes", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("inquiry_id", Integer, ForeignKey("inquiries.id"), nullable=False, index=True),
          Column("author", String(100), nullable=False), Column("text", Text, nullable=False),
          Column("created", Float, nullable=False))
    Table("staff_tokens", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("name", String(100), nullable=False), Column("token_hash", String(64), unique=True),
          Column("admin", Boolean, nullable=False), Column("created", Float, nullable=False),
          Column("revoked", Boolean, nullable=False, default=False))
    Table("approved_answers", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("inquiry_id", Integer, ForeignKey("inquiries.id"), nullable=False),
          Column("question", Text, nullable=False), Column("question_key", Text, nullable=False, index=True),
          Column("answer", Text, nullable=False), Column("citations", Text, nullable=False),
          Column("author", String(100), nullable=False), Column("created", Float, nullable=False),
          Column("active", Boolean, nullable=False, default=True))
    Table("audit_log", meta, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("created", Float, nullable=False), Column("actor", String(100), nullable=False),
          Column("action", String(60), nullable=False), Column("inquiry_id", Integer),
          Column("detail", Text, nullable=False))
    return meta


def _make_v1_database(url: str) -> str:
    """A database as version 1 left it: its tables, version 1 recorded, a token and three inquiries (two open ones of
    conversation c-1, a resolved one of c-2), one approved answer and one answered turn. Returns the token."""
    meta = _v1_schema()
    engine = create_engine(url)
    meta.create_all(engine)
    t = meta.tables
    now = time.time()
    inquiry = {"updated": now, "name": "A", "organisation": "B", "note": "n", "transcript": "[]", "evidence": "[]",
               "category": "claims", "urgent": False, "reply_approved": False}
    with engine.begin() as conn:
        conn.execute(t["schema_version"].insert().values(version=1, applied_at=now))
        conn.execute(t["staff_tokens"].insert().values(name="old-olga", token_hash=hash_token("pat_old"), admin=True,
                                                       created=now, revoked=False))
        for n, (conversation, status) in enumerate([("c-1", "new"), ("c-1", "in_progress"), ("c-2", "resolved")], 1):
            conn.execute(t["inquiries"].insert().values(id=n, reference=f"PR-{n:06d}", created=now + n, status=status,
                                                        conversation_id=conversation, **inquiry))
        conn.execute(t["approved_answers"].insert().values(inquiry_id=3, question="how long to file a claim",
                                                           question_key=question_key("how long to file a claim"),
                                                           answer="Within 90 days.", citations="[]", author="sam",
                                                           created=now, active=True))
        conn.execute(t["turns"].insert().values(message_id="m-old", conversation_id="c-1", created=now, question="q",
                                                answer="a", citations="[]", contacts="[]", category="claims",
                                                urgent=False, abstained=False, confidence=0.5))
    engine.dispose()
    return "pat_old"


def _shape(url: str) -> dict[str, Any]:
    """Each table's columns and index column lists: what a migration must leave identical to a fresh database."""
    engine = create_engine(url)
    found = inspect(engine)
    shape = {table: ({c["name"] for c in found.get_columns(table)},
                     sorted(tuple(i["column_names"]) for i in found.get_indexes(table)))
             for table in found.get_table_names()}
    engine.dispose()
    return shape


def test_migrations_run_once_and_a_restart_keeps_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 't.sqlite3'}"
    assert TriageStore(url).migrate() == SCHEMA_VERSION
    store = TriageStore(url)
    created = store.escalate(conversation_id=None, name="A", organisation="B", phone="503-555-0100", email=None,
                             note="hello")
    assert TriageStore(url).get(created["id"])["reference"] == created["reference"]
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_version ORDER BY version")]
    engine.dispose()
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_a_version_1_database_is_migrated_in_place(database_url, open_store, tmp_path):
    """Migrations 2-5 upgrade a database made by version 1, keeping its data: the result has the shape of a fresh
    one, the newest open inquiry of a conversation becomes its open one, old tokens still sign in."""
    token = _make_v1_database(database_url)
    store = open_store(database_url)
    assert store.migrate() == SCHEMA_VERSION
    if database_url.startswith("sqlite"):
        fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        open_store(fresh)
        assert _shape(database_url) == _shape(fresh)
    assert store.authenticate(token) == Staff("old-olga", True)
    assert [t["revoked_at"] for t in store.list_tokens()] == [None]
    repeat = store.escalate(conversation_id="c-1", name="A", organisation="B", phone="1", email=None, note="")
    assert repeat == {"id": 2, "reference": "PR-000002", "existing": True}
    after_resolved = store.escalate(conversation_id="c-2", name="A", organisation="B", phone="1", email=None, note="")
    assert after_resolved["existing"] is False and after_resolved["id"] == 4
    assert [i["burst"] for i in store.list_inquiries()] == [False] * 4
    store.record_feedback("m-old", "down", "the old turn takes a comment")
    assert store.feedback_counts() == {"up": 0, "down": 1}
    assert store.approved_answer("how long to file a claim")["answer"] == "Within 90 days."
    assert open_store(database_url).migrate() == SCHEMA_VERSION  # again: nothing left to do


def test_near_identical_questions_share_a_key():
    a, b = question_key("How long do I have to file a claim?"), question_key("how long do we have to file a claim")
    assert similar(a, b) == 1.0
    assert similar(a, question_key("where do I send the ownership disclosure?")) < 0.3


def _answer(conversation_id: str, n: int, *, urgent: bool = False, text: str = "File within 90 days [1].",
            citations: int = 1) -> dict[str, Any]:
    """An answered turn as the service records it."""
    return {"message_id": f"m-{conversation_id}-{n}", "conversation_id": conversation_id, "answer": text,
            "citations": [{"n": k, "doc_id": "manual", "doc_title": "Provider Manual", "section": f"5.{k} Claims",
                           "page": k, "quote": "Claims are filed within 90 days."} for k in range(1, citations + 1)],
            "contacts": [{"department": "Claims", "value": "503-813-3376"}], "category": "claims", "urgent": urgent,
            "abstained": False, "confidence": 0.5}


def _escalate(store: TriageStore, conversation_id: str | None, **extra: Any) -> dict[str, Any]:
    fields = {"name": "Pat Lee", "organisation": "Lee Family Clinic", "phone": "503-555-0100", "email": None,
              "note": "please call"}
    return store.escalate(conversation_id=conversation_id, **{**fields, **extra})


def test_concurrent_escalations_store_each_conversation_once(database_url, open_store):
    """200 concurrent escalations of distinct conversations are all stored, none twice; 40 concurrent escalations
    of one conversation make one inquiry, the others get it back as existing, each audited as a repeat."""
    store = open_store(database_url)
    with ThreadPoolExecutor(max_workers=40) as pool:
        made = list(pool.map(lambda n: _escalate(store, f"conv-{n}", note=f"load {n}"), range(200)))
    assert not any(m["existing"] for m in made)
    assert len({m["reference"] for m in made}) == 200 and store.count_inquiries() == 200
    with ThreadPoolExecutor(max_workers=40) as pool:
        repeats = list(pool.map(lambda n: _escalate(store, "conv-same", client=f"client-{n % 3}"), range(40)))
    assert len({r["id"] for r in repeats}) == 1 and sum(not r["existing"] for r in repeats) == 1
    assert store.count_inquiries() == 201
    actions = [a["action"] for a in store.get(repeats[0]["id"])["audit"]]
    assert actions.count("escalate") == 1 and actions.count("escalate_repeat") == 39


def test_a_resolved_inquiry_lets_its_conversation_escalate_again(tmp_path):
    """One open inquiry per conversation: resolving it frees the conversation; reopening it while a newer one is
    open leaves the newer one as the conversation's open inquiry."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    first = _escalate(store, "c-1")
    store.update(first["id"], Staff("sam", False), status="resolved")
    second = _escalate(store, "c-1")
    assert second["existing"] is False and second["id"] != first["id"]
    store.update(first["id"], Staff("sam", False), status="in_progress")
    assert _escalate(store, "c-1")["id"] == second["id"]


def test_an_escalation_copies_a_bounded_transcript(tmp_path):
    """A long conversation is not copied whole: the last 20 turns, answers cut to 2,000 characters, 10 citations a
    turn; an urgent turn cut off still makes the inquiry urgent."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    for n in range(25):
        store.record_turn(_answer("c-long", n, urgent=n == 0, text=f"turn {n} " + "x" * 5000, citations=15),
                          f"question {n}")
    inquiry = store.get(_escalate(store, "c-long")["id"])
    assert [t["question"] for t in inquiry["transcript"]] == [f"question {n}" for n in range(5, 25)]
    assert all(len(t["answer"]) == 2000 and len(t["citations"]) == 10 for t in inquiry["transcript"])
    assert len(inquiry["evidence"]) == 200 and inquiry["urgent"] is True


def test_a_flood_from_one_client_does_not_push_a_genuine_inquiry_off_the_first_page(database_url, open_store):
    """Burst flags: the 4th and later inquiries of one client within an hour sort after every other inquiry, so
    500 from one client leave the one genuine inquiry (made before them) on the first page of 50."""
    store = open_store(database_url)
    genuine = _escalate(store, None, note="genuine question", client="client-genuine")
    for n in range(500):
        _escalate(store, None, note=f"flood {n}", client="client-flood")
    first = store.list_inquiries(limit=50)
    assert genuine["reference"] in [i["reference"] for i in first]
    assert store.count_inquiries() == 501
    flagged = [i for i in store.list_inquiries(limit=200, offset=0) if i["burst"]]
    pages = [store.list_inquiries(limit=200, offset=offset) for offset in (0, 200, 400)]
    everything = [i for page in pages for i in page]
    assert len(everything) == 501 and len({i["id"] for i in everything}) == 501  # stable paging, none twice
    assert sum(i["burst"] for i in everything) == 497 and flagged  # the client's first three are not a burst
    assert [i["burst"] for i in everything] == sorted(i["burst"] for i in everything)
    assert len(store.list_inquiries(limit=1000)) == 200  # a page is at most 200
    assert store.count_inquiries(text="genuine") == 1


def test_inquiries_spread_over_more_than_an_hour_are_no_burst(tmp_path):
    """The burst window is the hour before an inquiry: five inquiries 22 minutes apart are never more than three
    in any hour."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    made = [_escalate(store, None, client="client-slow")["id"] for _ in range(5)]
    with store.engine.begin() as conn:
        for k, inquiry_id in enumerate(made):
            conn.execute(update(inquiries).where(inquiries.c.id == inquiry_id).values(created=time.time() - k * 1320))
    assert [i["burst"] for i in store.list_inquiries()] == [False] * 5
    assert store.get(made[0])["burst"] is False


def _approved_inquiry(store: TriageStore, question: str, reply: str) -> int:
    store.record_turn(_answer("c-approve", 1), question)
    inquiry_id = int(_escalate(store, "c-approve")["id"])
    store.update(inquiry_id, Staff("sam", False), reply=reply, approved=True)
    return inquiry_id


def test_a_new_reply_with_approved_false_withdraws_the_old_approved_answer(tmp_path):
    """Bug: a new reply with approved false stored the reply but left the old approved answer active, so the
    assistant kept serving text staff had replaced. approved=False now withdraws every approved answer."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    question = "how long do I have to file a claim?"
    inquiry_id = _approved_inquiry(store, question, "You have 90 days to file [1].")
    assert store.approved_answer(question)["answer"] == "You have 90 days to file [1]."
    updated = store.update(inquiry_id, Staff("sam", False), reply="Ask the claims team.", approved=False)
    assert store.approved_answer(question) is None
    assert updated["reply"] == "Ask the claims team." and updated["reply_approved"] is False
    assert [a["action"] for a in updated["audit"]][-2:] == ["update", "withdraw_answer"]


def test_approval_is_left_alone_unless_asked_and_withdrawn_on_request(tmp_path):
    """approved=None leaves an approval as it is (a note, a status); True needs a reply, given now or stored;
    withdraw_approved stops serving; a changed reply is never served unapproved."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    sam = Staff("sam", False)
    question = "how long do I have to file a claim?"
    inquiry_id = _approved_inquiry(store, question, "You have 90 days to file [1].")
    store.update(inquiry_id, sam, note="called back", status="resolved")
    assert store.get(inquiry_id)["reply_approved"] is True and store.approved_answer(question) is not None
    assert store.withdraw_approved(inquiry_id, actor="cli") == 1
    assert store.approved_answer(question) is None and store.get(inquiry_id)["reply_approved"] is False
    assert store.get(inquiry_id)["audit"][-1]["actor"] == "cli"
    assert store.withdraw_approved(inquiry_id, actor="cli") == 0
    store.update(inquiry_id, sam, approved=True)  # the stored reply
    assert store.approved_answer(question)["answer"] == "You have 90 days to file [1]."
    store.update(inquiry_id, sam, reply="Ninety days, counted from the date of service [1].")
    assert store.approved_answer(question) is None and store.get(inquiry_id)["reply_approved"] is False
    empty = _escalate(store, None)["id"]
    with pytest.raises(InvalidRequest):
        store.update(empty, sam, approved=True)
    with pytest.raises(NotFound):
        store.withdraw_approved(9999, actor="cli")


def test_token_audit_names_who_acted_and_revoked_tokens_are_refused(tmp_path):
    """Bug: add_token wrote its audit entry as actor "admin" or "cli" from the new token's own admin flag (and the
    server wrote a second one). The entry names the real actor, once; a revoked token no longer signs in."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    token = store.add_token("new-nina", admin=True, actor="admin-ann")
    entries = [e for e in store.audit_log() if e["action"] == "add_token"]
    assert [(e["actor"], e["detail"]["name"], e["detail"]["admin"]) for e in entries] == [
        ("admin-ann", "new-nina", True)]
    token_id = store.list_tokens()[0]["id"]
    assert store.authenticate(token).name == "new-nina"
    revoked = store.revoke_token(token_id, actor="admin-ann")
    assert revoked["revoked"] is True and revoked["revoked_at"]
    assert store.list_tokens()[0]["revoked_at"] == revoked["revoked_at"]
    with pytest.raises(Unauthorized):
        store.authenticate(token)
    with pytest.raises(NotFound):
        store.revoke_token(9999, actor="admin-ann")
    assert store.audit_log(limit=2)[1]["action"] == "revoke_token"


def test_failed_sign_ins_are_audited_without_the_token(tmp_path):
    """Every failed sign-in leaves an audit entry (actor unknown, the client's key, the reason) and none holds the
    token or its hash."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    revoked = store.add_token("gone")
    store.revoke_token(store.list_tokens()[0]["id"], actor="cli")
    for token, client in ((None, "k1"), ("", "k2"), ("pat_guess", "k3"), (revoked, None)):
        with pytest.raises(Unauthorized):
            store.authenticate(token, client=client)
    failed = [e for e in reversed(store.audit_log()) if e["action"] == "auth_failed"]
    assert [(e["actor"], e["detail"]) for e in failed] == [
        ("unknown", {"client": "k1", "reason": "missing"}), ("unknown", {"client": "k2", "reason": "missing"}),
        ("unknown", {"client": "k3", "reason": "invalid"}), ("unknown", {"client": None, "reason": "revoked"})]
    logged = json.dumps(store.audit_log())
    for secret in ("pat_guess", revoked, hash_token("pat_guess"), hash_token(revoked)):
        assert secret not in logged


def test_a_repeated_rating_replaces_the_first(tmp_path):
    """One rating per answer: rating again replaces the rating and the comment, analytics count the answer once,
    and the comment is stored screened."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    store.record_turn(_answer("c-rate", 1), "how long to file a claim?")
    store.record_feedback("m-c-rate-1", "up")
    store.record_feedback("m-c-rate-1", "down", f"wrong for {MEMBER}")
    stats = store.analytics()
    assert stats["feedback"] == {"up": 0, "down": 1} and stats["thumbs_down_rate"] == 1.0
    assert store.feedback_counts() == {"up": 0, "down": 1}
    with pytest.raises(NotFound):
        store.record_feedback("m-missing", "up")
    with pytest.raises(InvalidRequest):
        store.record_feedback("m-c-rate-1", "meh")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("t.sqlite3*"))
    assert b"wrong for" in raw and not any(i.encode() in raw for i in IDENTIFIERS)


def test_every_free_text_field_is_stored_screened(tmp_path):
    """Name, organisation and note of an inquiry, staff notes, replies and feedback comments pass the screen;
    the provider's own phone and e-mail are kept as given."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    store.record_turn(_answer("c-phi", 1), "do we need auth for an MRI?")
    made = store.escalate(conversation_id="c-phi", name=f"Front desk re {MEMBER}", organisation=f"Clinic {MEMBER}",
                          phone="503-555-0199", email="desk@clinic.example.org", note=f"about {MEMBER}")
    store.update(made["id"], Staff("sam", False), note=f"checked {MEMBER}", reply=f"Yes for {MEMBER} [1]",
                 approved=True)
    store.record_feedback("m-c-phi-1", "down", f"{MEMBER} again")
    _escalate(store, "c-phi", note=f"repeat {MEMBER}")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("t.sqlite3*"))
    assert not any(i.encode() in raw for i in IDENTIFIERS)
    inquiry = store.get(made["id"])
    assert inquiry["phone"] == "503-555-0199" and inquiry["email"] == "desk@clinic.example.org"
    assert inquiry["name"].startswith("Front desk re") and "[redacted]" in inquiry["reply"]


def test_the_csv_export_neutralises_spreadsheet_formulas(tmp_path):
    """OWASP CSV injection: a cell starting with =, +, -, @, a tab or a carriage return is prefixed with a quote,
    so a spreadsheet shows it as text instead of running it."""
    store = TriageStore(f"sqlite:///{tmp_path / 't.sqlite3'}")
    payload = '=HYPERLINK("http://x","y")'
    _escalate(store, None, note=payload, organisation="+1 Clinic", name="@lee")
    text = inquiries_csv(store.list_inquiries())
    header, row = list(csv.reader(io.StringIO(text)))
    assert header == list(CSV_COLUMNS) and header[-1] == "burst"
    cells = dict(zip(header, row, strict=True))
    assert cells["note"] == "'" + payload and cells["organisation"] == "'+1 Clinic" and cells["name"] == "'@lee"
    assert cells["burst"] == "False" and cells["reference"] == "PR-000001"
    assert [csv_cell(v) for v in ("-1", "\tx", "\rx", "ok", None, "a=b")] == ["'-1", "'\tx", "'\rx", "ok", "", "a=b"]


def _staff_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provider_assistant_cli", "staff", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_staff_cli_lists_and_revokes_tokens_and_withdraws_answers(tmp_path):
    data = tmp_path / "data"
    store = TriageStore.from_settings(Settings(data_dir=data))
    kept, gone = store.add_token("kept-kim"), store.add_token("gone-gus", admin=True)
    question = "how long do I have to file a claim?"
    inquiry_id = _approved_inquiry(store, question, "You have 90 days to file [1].")

    listed = _staff_cli(data, "list-tokens")
    assert listed.returncode == 0 and "kept-kim" in listed.stdout and "gone-gus" in listed.stdout
    revoked = _staff_cli(data, "revoke-token", "2")
    assert revoked.returncode == 0 and "gone-gus" in revoked.stdout
    with pytest.raises(Unauthorized):
        store.authenticate(gone)
    assert store.authenticate(kept).name == "kept-kim"
    rows = [json.loads(line) for line in _staff_cli(data, "list-tokens", "--json").stdout.splitlines()]
    assert [(r["name"], r["revoked"], bool(r["revoked_at"])) for r in rows] == [("kept-kim", False, False),
                                                                               ("gone-gus", True, True)]
    missing = _staff_cli(data, "revoke-token", "99")
    assert missing.returncode == 1 and "no token 99" in missing.stderr

    withdrawn = _staff_cli(data, "withdraw-answer", f"PR-{inquiry_id:06d}")
    assert withdrawn.returncode == 0 and "1 approved answer" in withdrawn.stdout, withdrawn.stderr
    assert store.approved_answer(question) is None
    assert store.get(inquiry_id)["audit"][-1] | {"created": None} == {
        "actor": "cli", "action": "withdraw_answer", "detail": {"answers": 1, "reason": "withdrawn"}, "created": None}
    assert _staff_cli(data, "withdraw-answer", str(inquiry_id)).returncode == 0  # nothing left: still fine
    assert _staff_cli(data, "withdraw-answer", "PR-999999").returncode == 1


STAFF_ENDPOINTS = [("GET", "/api/inquiries"), ("GET", "/api/inquiries/1"), ("PATCH", "/api/inquiries/1"),
                   ("GET", "/api/inquiries.csv"), ("GET", "/api/staff/analytics"), ("GET", "/api/staff/tokens"),
                   ("POST", "/api/staff/tokens")]


@pytest.mark.parametrize("method, path", STAFF_ENDPOINTS)
def test_staff_endpoints_refuse_missing_and_wrong_tokens(service, method, path):
    for headers in ({}, _auth("pat_wrong"), {"Authorization": "Basic abc"}):
        r = httpx.request(method, service.url + path, headers=headers, json={"name": "x"})
        assert r.status_code == 401, (path, headers, r.text)


def test_only_admin_tokens_manage_tokens(service, tokens):
    assert httpx.get(service.url + "/api/staff/tokens", headers=_auth(tokens["staff"])).status_code == 403
    assert httpx.post(service.url + "/api/staff/tokens", headers=_auth(tokens["staff"]),
                      json={"name": "eve", "admin": True}).status_code == 403
    made = httpx.post(service.url + "/api/staff/tokens", headers=_auth(tokens["admin"]), json={"name": "new-nina"})
    assert made.status_code == 201 and made.json()["token"].startswith("pat_")
    listed = httpx.get(service.url + "/api/staff/tokens", headers=_auth(tokens["admin"])).json()["tokens"]
    assert "new-nina" in {t["name"] for t in listed}
    raw = (service.settings.data_dir / "triage.sqlite3").read_bytes()
    assert made.json()["token"].encode() not in raw  # stored hashed
    store = TriageStore.from_settings(service.settings)
    entries = [e for e in store.audit_log() if e["action"] == "add_token" and e["detail"]["name"] == "new-nina"]
    assert [e["actor"] for e in entries] == ["admin-ann"]  # once, naming the admin who made it
    nina = next(t for t in store.list_tokens() if t["name"] == "new-nina")
    assert httpx.get(service.url + "/api/inquiries", headers=_auth(made.json()["token"])).status_code == 200
    store.revoke_token(nina["id"], actor="admin-ann")
    assert httpx.get(service.url + "/api/inquiries", headers=_auth(made.json()["token"])).status_code == 401


def test_failed_staff_sign_ins_are_audited_with_the_client(service):
    store = TriageStore.from_settings(service.settings)
    seen = store.audit_log(limit=1)[0]["id"] if store.audit_log(limit=1) else 0
    assert httpx.get(service.url + "/api/inquiries", headers=_auth("pat_wrong")).status_code == 401
    assert httpx.get(service.url + "/api/inquiries").status_code == 401
    failed = [e for e in store.audit_log() if e["id"] > seen and e["action"] == "auth_failed"]
    assert sorted(e["detail"]["reason"] for e in failed) == ["invalid", "missing"]
    assert all(e["actor"] == "unknown" and e["detail"]["client"] for e in failed)  # the server passes its key
    assert "pat_wrong" not in json.dumps(failed)


def test_escalation_needs_a_way_to_reply(service):
    r = httpx.post(service.url + "/api/escalate", json={"name": "A", "organisation": "B", "note": "x"})
    assert r.status_code == 422 and "phone number or an e-mail" in r.text


def test_escalation_resolution_and_approved_answer_change_what_the_assistant_says(service, tokens):
    question = "can a nurse practitioner be the pcp for our kp members?"
    first = httpx.post(service.url + "/api/chat", json={"message": question}, timeout=60).json()
    assert "Approved by provider relations" not in first["answer"]
    body = {"conversation_id": first["conversation_id"], "name": "Pat Lee", "organisation": "Lee Family Clinic",
            "email": "office@leeclinic.example.org", "note": "the answer did not say if NPs count"}
    if first.get("conversation_secret"):
        body["conversation_secret"] = first["conversation_secret"]
    esc = httpx.post(service.url + "/api/escalate", json=body).json()
    assert esc["reference"].startswith("PR-") and esc["existing"] is False
    repeat = httpx.post(service.url + "/api/escalate", json={**body, "note": "any news?"}).json()
    assert repeat["reference"] == esc["reference"] and repeat["existing"] is True  # one open inquiry
    queue = httpx.get(service.url + "/api/inquiries", params={"q": "Lee Family", "limit": 10},
                      headers=_auth(tokens["staff"])).json()
    assert queue["total"] >= 1 and queue["limit"] == 10 and queue["offset"] == 0
    inquiry = next(i for i in queue["inquiries"] if i["reference"] == esc["reference"])
    detail = httpx.get(f"{service.url}/api/inquiries/{inquiry['id']}", headers=_auth(tokens["staff"])).json()
    assert detail["transcript"][0]["question"] == question and detail["evidence"]
    assert detail["suggested_department"] is not None or detail["transcript"][0]["abstained"]
    reply = "Yes: a nurse practitioner may serve as PCP when credentialed [1]; call 503-813-3376 with questions."
    updated = httpx.patch(f"{service.url}/api/inquiries/{inquiry['id']}", headers=_auth(tokens["staff"]), json={
        "status": "resolved", "assigned_to": "staff-sam", "note": "checked with contracting", "reply": reply,
        "approved": True}).json()
    assert updated["status"] == "resolved" and updated["reply_approved"] is True
    assert [a["action"] for a in updated["audit"]][-3:] == ["update", "note", "approve_answer"]
    again = httpx.post(service.url + "/api/chat", json={"message": "Can a nurse practitioner be the PCP for our KP "
                                                                   "members"}, timeout=60).json()
    assert again["answer"].startswith(reply) and "Approved by provider relations" in again["answer"]
    assert again["citations"] == first["citations"][:1]  # only the sources the reply cites
    exported = httpx.get(service.url + "/api/inquiries.csv", params={"status": "resolved"},
                         headers=_auth(tokens["staff"])).text
    assert esc["reference"] in exported and exported.splitlines()[0] == ",".join(CSV_COLUMNS)
    analytics = httpx.get(service.url + "/api/staff/analytics", headers=_auth(tokens["staff"])).json()
    assert analytics["questions"] >= 2 and analytics["inquiries_by_category"]
    withdrawn = httpx.patch(f"{service.url}/api/inquiries/{inquiry['id']}", headers=_auth(tokens["staff"]),
                            json={"approved": False}).json()
    assert withdrawn["reply_approved"] is False and withdrawn["audit"][-1]["action"] == "withdraw_answer"
    after = httpx.post(service.url + "/api/chat", json={"message": question}, timeout=60).json()
    assert not after["answer"].startswith(reply) and "Approved by provider relations" not in after["answer"]


def _whole_queue(store: TriageStore, **filters: Any) -> list[dict[str, Any]]:
    """Every inquiry the filters match, page by page (a page is at most 200)."""
    rows: list[dict[str, Any]] = []
    while page := store.list_inquiries(**filters, limit=200, offset=len(rows)):
        rows += page
    return rows


def test_two_hundred_concurrent_escalations_are_all_stored_once_and_survive_a_restart(service):
    def escalate(n: int) -> str:
        r = httpx.post(service.url + "/api/escalate", timeout=60, json={
            "name": f"Caller {n}", "organisation": f"Clinic {n}", "phone": "503-555-0100", "note": f"load {n}"})
        assert r.status_code == 201, r.text
        return str(r.json()["reference"])

    with ThreadPoolExecutor(max_workers=40) as pool:
        references = list(pool.map(escalate, range(200)))
    assert len(set(references)) == 200
    stored = [i for i in _whole_queue(TriageStore.from_settings(service.settings), text="load ")
              if i["note"].startswith("load ")]
    assert len(stored) == 200 and len({i["reference"] for i in stored}) == 200
    service.stop()
    service.start()  # a restart: new app, same data dir, migrations run again
    after = _whole_queue(TriageStore.from_settings(service.settings), text="load ")
    assert {i["reference"] for i in after} >= set(references)
    assert httpx.get(service.url + "/healthz").status_code == 200


def test_member_identifiers_appear_in_no_stored_question_or_log_line(service, caplog):
    caplog.set_level("INFO")
    question = "pt Maria Gonzalez DOB 4/2/1980 mbr# 11223344 SSN 123-45-6789 - do we need auth for her MRI?"
    answer = httpx.post(service.url + "/api/chat", timeout=60, json={"message": question}).json()
    escalated = httpx.post(service.url + "/api/escalate", json={
        "conversation_id": answer["conversation_id"], "conversation_secret": answer.get("conversation_secret"),
        "name": "Front Desk", "organisation": "Imaging Co", "phone": "503-555-0101",
        "note": "about member Maria Gonzalez DOB 4/2/1980, id 11223344"})
    assert escalated.status_code == 201, escalated.text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for path in service.settings.data_dir.glob("*.sqlite3*"):
        raw = path.read_bytes()
        for identifier in PHI:
            assert identifier.encode() not in raw, (path.name, identifier)
    for identifier in PHI:
        assert identifier not in logged


def test_export_evals_turns_corrections_into_questions_the_eval_runs(service, tokens, tmp_path):
    answer = httpx.post(service.url + "/api/chat", json={"message": "what is the claims phone number?"}).json()
    httpx.post(service.url + "/api/feedback", json={"message_id": answer["message_id"], "rating": "down"})
    out = tmp_path / "corrections.jsonl"
    proc = subprocess.run([sys.executable, "-m", "provider_assistant_cli", "staff", "export-evals", str(out),
                           "--data-dir", str(service.settings.data_dir)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    questions = load_questions([out])
    kinds = {q.kind for q in questions}
    assert "feedback" in kinds and "fact" in kinds  # the thumbs-down and the resolved inquiry above
    report = tmp_path / "report"
    data = tmp_path / "evaldata"
    (data / "eval-index").mkdir(parents=True)
    shutil.copytree(service.settings.data_dir, data / "eval-index" / "corpus",
                    ignore=shutil.ignore_patterns("*.sqlite3-*", "triage*", "conversations*"))
    proc = subprocess.run([sys.executable, "-m", "provider_assistant_cli", "eval", str(out), "--out", str(report),
                           "--data-dir", str(data), "--baselines", "none"], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    rows = [json.loads(line) for line in (report / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == len(questions) and not any(r["error"] for r in rows)
