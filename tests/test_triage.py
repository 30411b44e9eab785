"""Staff triage: the inquiry store on real SQLite files, the staff API's auth, approved answers,
concurrent escalations against the running service, restarts, and member data kept out of storage
and logs."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from assistant.index import IndexSnapshot
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.triage import TriageStore, question_key, similar
from evals.questions import load_questions

ROOT = Path(__file__).resolve().parents[1]
PHI = ("Maria Gonzalez", "4/2/1980", "11223344", "123-45-6789")


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
    settings = Settings(data_dir=data)
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


def test_migrations_run_once_and_a_restart_keeps_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 't.sqlite3'}"
    assert TriageStore(url).migrate() == 1
    store = TriageStore(url)
    created = store.escalate(conversation_id=None, name="A", organisation="B", phone="503-555-0100", email=None,
                             note="hello")
    assert TriageStore(url).get(created["id"])["reference"] == created["reference"]


def test_near_identical_questions_share_a_key():
    a, b = question_key("How long do I have to file a claim?"), question_key("how long do we have to file a claim")
    assert similar(a, b) == 1.0
    assert similar(a, question_key("where do I send the ownership disclosure?")) < 0.3


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


def test_escalation_needs_a_way_to_reply(service):
    r = httpx.post(service.url + "/api/escalate", json={"name": "A", "organisation": "B", "note": "x"})
    assert r.status_code == 422 and "phone number or an e-mail" in r.text


def test_escalation_resolution_and_approved_answer_change_what_the_assistant_says(service, tokens):
    question = "can a nurse practitioner be the pcp for our kp members?"
    first = httpx.post(service.url + "/api/chat", json={"message": question}, timeout=60).json()
    assert "Approved by provider relations" not in first["answer"]
    esc = httpx.post(service.url + "/api/escalate", json={
        "conversation_id": first["conversation_id"], "name": "Pat Lee", "organisation": "Lee Family Clinic",
        "email": "office@leeclinic.example.org", "note": "the answer did not say if NPs count"}).json()
    assert esc["reference"].startswith("PR-")
    queue = httpx.get(service.url + "/api/inquiries", params={"q": "Lee Family"}, headers=_auth(tokens["staff"])).json()
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
    csv = httpx.get(service.url + "/api/inquiries.csv", params={"status": "resolved"},
                    headers=_auth(tokens["staff"])).text
    assert esc["reference"] in csv and csv.startswith("reference,created,status")
    analytics = httpx.get(service.url + "/api/staff/analytics", headers=_auth(tokens["staff"])).json()
    assert analytics["questions"] >= 2 and analytics["inquiries_by_category"]


def test_two_hundred_concurrent_escalations_are_all_stored_once_and_survive_a_restart(service):
    def escalate(n: int) -> str:
        r = httpx.post(service.url + "/api/escalate", timeout=60, json={
            "name": f"Caller {n}", "organisation": f"Clinic {n}", "phone": "503-555-0100", "note": f"load {n}"})
        assert r.status_code == 201, r.text
        return str(r.json()["reference"])

    with ThreadPoolExecutor(max_workers=40) as pool:
        references = list(pool.map(escalate, range(200)))
    assert len(set(references)) == 200
    store = TriageStore.from_settings(service.settings)
    stored = [i for i in store.list_inquiries(text="load ", limit=1000) if i["note"].startswith("load ")]
    assert len(stored) == 200 and len({i["reference"] for i in stored}) == 200
    service.stop()
    service.start()  # a restart: new app, same data dir, migrations run again
    after = TriageStore.from_settings(service.settings).list_inquiries(text="load ", limit=1000)
    assert {i["reference"] for i in after} >= set(references)
    assert httpx.get(service.url + "/healthz").status_code == 200


def test_member_identifiers_appear_in_no_stored_question_or_log_line(service, caplog):
    caplog.set_level("INFO")
    question = "pt Maria Gonzalez DOB 4/2/1980 mbr# 11223344 SSN 123-45-6789 - do we need auth for her MRI?"
    answer = httpx.post(service.url + "/api/chat", timeout=60, json={"message": question}).json()
    httpx.post(service.url + "/api/escalate", json={
        "conversation_id": answer["conversation_id"], "name": "Front Desk", "organisation": "Imaging Co",
        "phone": "503-555-0101", "note": "about member Maria Gonzalez DOB 4/2/1980, id 11223344"})
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
