"""Trust at the edges (issue 27), against the service served by uvicorn on 127.0.0.1 over the bundled corpus:
member identifiers never stored or logged, per-client limits, conversations bound to their secret, the staff
queue under a flood, approved answers withdrawn, tokens revoked, bad input answered with a 4xx, and a running
service following a re-ingest without a restart."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from servers import served

from assistant.index import IndexSnapshot
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.triage import TriageStore
from ingest.pipeline import Ingestor
from server import iter_sse

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def _as(client: int) -> dict[str, str]:
    """Headers of one of many clients behind the trusted proxy (127.0.0.1 in these tests)."""
    return {"X-Forwarded-For": f"10.{client // 65536 % 256}.{client // 256 % 256}.{client % 256}"}


@pytest.fixture(scope="module")
def corpus_settings(corpus_index, tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("edges") / "data"
    shutil.copytree(corpus_index.settings.data_dir, data)
    return Settings(data_dir=data, trusted_proxies=["127.0.0.1"],
                    rate_limits={"chat": "30/minute", "escalate": "5/hour", "feedback": "30/minute",
                                 "conversation": "60/minute", "staff_sign_in": "50/minute"})


@pytest.fixture(scope="module")
def service(corpus_settings, real_embedder) -> Iterator[str]:
    assistant = Assistant(corpus_settings, IndexSnapshot.open(corpus_settings), real_embedder)
    with served(corpus_settings, assistant) as url:
        yield url


@pytest.fixture(scope="module")
def staff_token(corpus_settings, service) -> str:
    return TriageStore.from_settings(corpus_settings).add_token("edge-admin", admin=True)


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------- member identifiers


def test_no_member_identifier_is_stored_or_logged_anywhere(service, corpus_settings, caplog):
    """Every identifier of both PHI sets typed into chat, the stream, feedback comments and every free-text field
    of an escalation: none may be in any file of the data dir or any log line."""
    caplog.set_level(logging.DEBUG)
    rows = _rows("phi_identifiers.jsonl") + _rows("phi_holdout_identifiers.jsonl")
    identifiers = {x for r in rows for x in r["identifiers"]}
    # a short identifier ("6789", the last four of an SSN) may be printed in the index already: what counts is
    # whether the chats added any
    before = _occurrences(corpus_settings.data_dir, identifiers)
    with httpx.Client(base_url=service, timeout=60) as http:
        for k, row in enumerate(rows):
            who = _as(10_000 + k % 250)
            if k % 2:
                answer = http.post("/api/chat", json={"message": row["text"]}, headers=who)
                assert answer.status_code == 200, answer.text
                body = answer.json()
            else:
                with http.stream("POST", "/api/chat/stream", json={"message": row["text"]}, headers=who) as r:
                    events = dict(iter_sse(r.iter_lines()))
                body = {**events["meta"], "answer": "", **events["sources"]}
            assert body["phi_detected"] is True, row["text"]
            shown = json.dumps(body)
            assert not [x for x in row["identifiers"] if x in shown]
            fb = http.post("/api/feedback", json={"message_id": body["message_id"], "rating": "down",
                                                  "comment": row["text"]}, headers=who)
            assert fb.status_code == 201
            if k % 4 == 0:
                esc = http.post("/api/escalate", headers=_as(20_000 + k), json={
                    "name": row["text"][:200], "organisation": row["text"][:200], "phone": "503-555-0199",
                    "note": row["text"], "conversation_id": body["conversation_id"],
                    "conversation_secret": body.get("conversation_secret")})
                assert esc.status_code in (200, 201), esc.text
    after = _occurrences(corpus_settings.data_dir, identifiers)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("provider_assistant", "assistant",
                                                                                     "server", "uvicorn")))
    in_files = sorted(x for x in identifiers if after[x] > before[x])
    in_logs = sorted(x for x in identifiers if re.search(rf"(?<![\w-]){re.escape(x)}(?![\w-])", logged))
    assert not in_files and not in_logs, (in_files[:10], in_logs[:10])


def _occurrences(folder: Path, values: set[str]) -> dict[str, int]:
    """How often each value is written, as a whole token, in the files of a folder (bytes, so SQLite and WAL files
    count; a hex id holding '4412' is no SSN's last four)."""
    from collections import Counter

    stored = b"\n".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    either = b"|".join(re.escape(v.encode()) for v in sorted(values, key=len, reverse=True))
    found = Counter(re.findall(rb"(?<![0-9A-Za-z])(?:" + either + rb")(?![0-9A-Za-z])", stored))
    return {v: found[v.encode()] for v in values}


def test_clean_questions_are_stored_word_for_word(service, corpus_settings):
    """At most 1% of questions without identifiers may lose a word on the way to the conversation store."""
    rows = _rows("phi_clean.jsonl")
    with httpx.Client(base_url=service, timeout=60) as http:
        changed = []
        for k, row in enumerate(rows):
            body = http.post("/api/chat", json={"message": row["text"]}, headers=_as(30_000 + k)).json()
            secret = {"X-Conversation-Secret": body["conversation_secret"], **_as(30_000 + k)}
            stored = http.get(f"/api/conversations/{body['conversation_id']}", headers=secret).json()
            if stored["messages"][0]["question"] != row["text"]:
                changed.append(row["text"])
    assert len(changed) <= 0.01 * len(rows), changed


def test_no_question_word_the_sources_lack_is_echoed(service):
    """An unknown surname was echoed in 'no document mentions ...'."""
    with httpx.Client(base_url=service, timeout=60) as http:
        for k, question in enumerate(["is Zorblaxian therapy covered?", "does kp cover acupuncture",
                                      "what is the fee schedule for code QX9921?"]):
            answer = http.post("/api/chat", json={"message": question}, headers=_as(60 + k)).json()
            for word in ("zorblaxian", "acupuncture", "qx9921"):
                assert word not in answer["answer"].lower()


# ---------------------------------------------------------------- limits and the queue


def test_a_flood_of_escalations_meets_the_limit_and_the_genuine_inquiry_stays_on_page_one(service, staff_token):
    with httpx.Client(base_url=service, timeout=60) as http:
        genuine = http.post("/api/escalate", headers=_as(7), json={
            "name": "Dana Reyes", "organisation": "Cedar Clinic", "phone": "503-555-0188",
            "note": "our claims keep denying for timely filing although we filed in time"})
        assert genuine.status_code == 201
        statuses = []
        for k in range(300):
            r = http.post("/api/escalate", headers=_as(66), json={
                "name": f"Flood {k}", "organisation": "Flood Inc", "phone": "503-555-0100", "note": "flood"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["Retry-After"]) >= 1
        assert statuses[:5] == [201] * 5 and set(statuses[5:]) == {429}
        page = http.get("/api/inquiries", headers={"Authorization": f"Bearer {staff_token}"}).json()
        assert genuine.json()["reference"] in [i["reference"] for i in page["inquiries"]]
        assert page["total"] >= 6 and len(page["inquiries"]) <= 50


def test_chat_limit_per_client_and_normal_clients_see_no_errors(service):
    with httpx.Client(base_url=service, timeout=60) as http:
        flood = [http.post("/api/chat", json={"message": "timely filing limit?"}, headers=_as(99)).status_code
                 for _ in range(300)]
        assert flood[:30] == [200] * 30 and set(flood[30:]) == {429}

    def normal_client(k: int) -> list[int]:
        with httpx.Client(base_url=service, timeout=120) as http:
            codes = []
            for question in ("how long do I have to file a claim?", "what is the claims phone number?"):
                codes.append(http.post("/api/chat", json={"message": question}, headers=_as(150 + k)).status_code)
                time.sleep(0.5)
            return codes

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = [c for result in pool.map(normal_client, range(50)) for c in result]
    assert codes == [200] * 100


def test_one_open_escalation_per_conversation(service):
    with httpx.Client(base_url=service, timeout=60) as http:
        first = http.post("/api/chat", json={"message": "who handles provider disputes?"}, headers=_as(20)).json()
        body = {"name": "Lee Park", "organisation": "Birch Clinic", "email": "frontdesk@birchclinic.example",
                "conversation_id": first["conversation_id"], "conversation_secret": first["conversation_secret"]}
        one = http.post("/api/escalate", json=body, headers=_as(21))
        two = http.post("/api/escalate", json=body, headers=_as(22))
        assert (one.status_code, two.status_code) == (201, 200)
        assert one.json()["reference"] == two.json()["reference"] and two.json()["existing"] is True


# ---------------------------------------------------------------- conversations and staff


def test_a_conversation_cannot_be_read_or_extended_without_its_secret(service):
    with httpx.Client(base_url=service, timeout=60) as http:
        first = http.post("/api/chat", json={"message": "what is the claims phone number?"}, headers=_as(30)).json()
        cid, secret = first["conversation_id"], first["conversation_secret"]
        assert http.get(f"/api/conversations/{cid}", headers=_as(30)).status_code == 403
        assert http.get(f"/api/conversations/{cid}", headers={"X-Conversation-Secret": "x" * 32,
                                                              **_as(30)}).status_code == 403
        assert http.post("/api/chat", json={"message": "and their fax?", "conversation_id": cid},
                         headers=_as(31)).status_code == 403
        assert http.post("/api/chat", json={"message": "hi", "conversation_id": "1",
                                            "conversation_secret": secret}, headers=_as(31)).status_code == 404
        ok = http.post("/api/chat", json={"message": "and their fax?", "conversation_id": cid,
                                          "conversation_secret": secret}, headers=_as(30))
        assert ok.status_code == 200 and "conversation_secret" not in ok.json()
        read = http.get(f"/api/conversations/{cid}", headers={"X-Conversation-Secret": secret, **_as(30)})
        assert [m["question"] for m in read.json()["messages"]] == ["what is the claims phone number?",
                                                                    "and their fax?"]


def test_a_withdrawn_answer_is_not_served_and_a_revoked_token_is_refused(service, staff_token):
    auth = {"Authorization": f"Bearer {staff_token}"}
    question = "can we bill for a missed appointment fee?"
    with httpx.Client(base_url=service, timeout=60) as http:
        first = http.post("/api/chat", json={"message": question}, headers=_as(40)).json()
        ref = http.post("/api/escalate", headers=_as(40), json={
            "name": "Sam Ortiz", "organisation": "Oak Clinic", "phone": "503-555-0177",
            "conversation_id": first["conversation_id"], "conversation_secret": first["conversation_secret"]}).json()
        approved = http.patch(f"/api/inquiries/{ref['id']}", headers=auth,
                              json={"reply": "No: the plan does not allow charging members for missed visits.",
                                    "approved": True, "status": "resolved"})
        assert approved.status_code == 200
        assert http.post("/api/chat", json={"message": question}, headers=_as(41)).json().get("approved") is True
        assert http.patch(f"/api/inquiries/{ref['id']}", headers=auth, json={"approved": False}).status_code == 200
        assert not http.post("/api/chat", json={"message": question}, headers=_as(42)).json().get("approved")
        made = http.post("/api/staff/tokens", headers=auth, json={"name": "temp"}).json()
        temp = {"Authorization": f"Bearer {made['token']}"}
        assert http.get("/api/inquiries", headers=temp).status_code == 200
        token_id = next(t["id"] for t in http.get("/api/staff/tokens", headers=auth).json()["tokens"]
                        if t["name"] == "temp")
        assert http.delete(f"/api/staff/tokens/{token_id}", headers=auth).status_code == 200
        assert http.get("/api/inquiries", headers=temp).status_code == 401
        audit = http.get("/api/staff/audit", headers=auth).json()["entries"]
        actions = {(e["actor"], e["action"]) for e in audit}
        assert ("edge-admin", "add_token") in actions and ("edge-admin", "revoke_token") in actions
        assert any(e["action"] == "auth_failed" for e in audit)


def test_csv_cells_are_neutralised_and_pages_send_security_headers(service, staff_token):
    with httpx.Client(base_url=service, timeout=60) as http:
        http.post("/api/escalate", headers=_as(50), json={
            "name": "=HYPERLINK(\"http://x\",\"y\")", "organisation": "+cmd", "phone": "503-555-0166",
            "note": "@SUM(A1)"})
        csv_text = http.get("/api/inquiries.csv", headers={"Authorization": f"Bearer {staff_token}"}).text
        assert "'=HYPERLINK" in csv_text and ",=" not in csv_text and "\n=" not in csv_text
        for page in ("/", "/staff"):
            headers = http.get(page).headers
            assert "script-src 'self'" in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        doc = http.get("/docs/ca-medi-cal-portal")
        assert doc.status_code == 200 and doc.headers["content-security-policy"].startswith("sandbox")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("raw", "status"), [
    (b'{"message": "pt \\ud800 maria lopez dob 04/02/1980"}', 422),
    (b'{"message": "hi", "extra": 1}', 422),
    (b'{"message": "hi", "conversation_id": "c-1", "conversation_secret": "abcdefgh"}', 404),
])
def test_bad_bodies_get_a_4xx_that_does_not_echo_them(service, raw, status, caplog):
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=service, timeout=60) as http:
        r = http.post("/api/chat", content=raw, headers={"Content-Type": "application/json", **_as(70)})
    assert r.status_code == status
    assert "maria" not in r.text.lower() and "maria" not in "\n".join(m.getMessage() for m in caplog.records).lower()


def test_huge_bodies_and_ids_are_refused_before_any_work(service, staff_token):
    with httpx.Client(base_url=service, timeout=60) as http:
        huge = http.post("/api/chat", content=b'{"message": "' + b"a" * 5_000_000 + b'"}',
                         headers={"Content-Type": "application/json", **_as(71)})
        assert huge.status_code == 413
        big_id = http.get(f"/api/inquiries/{10**30}", headers={"Authorization": f"Bearer {staff_token}"})
        assert big_id.status_code == 422


# ---------------------------------------------------------------- following the index


def test_a_running_service_answers_from_a_reingested_document_within_ten_seconds(tmp_path, real_embedder):
    """After a phone number changed and was re-ingested, the service answered the old number 841 times out of
    841, citing a deleted chunk, until it was restarted."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    page = corpus / "claims-help.md"
    old, new = "503-555-0130", "503-555-0199"
    page.write_text(
        "# Claims Help Line\n\nFor questions about a claim you submitted, call the Claims Help Line at "
        f"{old}, Monday to Friday, 8 a.m. to 5 p.m. Have the claim number and the member's plan ready when you "
        "call. The line cannot change a claim over the phone. Staff can tell you whether a claim was received, "
        "whether it is pending and when it was paid or denied.\n\n"
        "## Corrected claims\n\nSubmit a corrected claim within 365 days of the date of service. Mark the claim "
        "as a replacement with frequency code 7 and give the number of the claim it replaces. Send the whole "
        "claim again, not only the lines that changed. A corrected claim is not an appeal: to dispute a "
        "decision, file an appeal instead. Corrected claims sent on paper need the word CORRECTED at the top.\n",
        encoding="utf-8")
    (corpus / "referrals.md").write_text("# Referrals\n\nA referral is valid for 90 days. Specialists confirm the "
                                         "referral before the first visit.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", index_poll_seconds=0.5, rate_limits={"chat": "1000/minute"})
    assert Ingestor(settings, real_embedder, progress=False).run([corpus]).ok
    question = "what is the claims help line phone number?"
    approved_question = "how long do I have to submit a corrected claim?"
    token = TriageStore.from_settings(settings).add_token("reload-admin", admin=True)
    with served(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        version = http.get("/healthz").json()["index_version"]
        before = http.post("/api/chat", json={"message": question}).json()
        assert old in json.dumps(before), before["answer"]
        # an approved answer citing the document that is about to change
        asked = http.post("/api/chat", json={"message": approved_question}).json()
        ref = http.post("/api/escalate", json={"name": "Ann Lee", "organisation": "Elm Clinic", "phone": "503-555-0177",
                                               "conversation_id": asked["conversation_id"],
                                               "conversation_secret": asked["conversation_secret"]}).json()
        assert http.patch(f"/api/inquiries/{ref['id']}", headers={"Authorization": f"Bearer {token}"},
                          json={"reply": "Within 365 days of the date of service [1].", "approved": True}).is_success
        page.write_text(page.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
        assert Ingestor(settings, real_embedder, progress=False).run([corpus]).count("updated") == 1
        changed_at, answer = time.time(), before
        while time.time() < changed_at + 10:
            answer = http.post("/api/chat", json={"message": question}).json()
            if new in json.dumps(answer):
                break
            time.sleep(0.2)
        assert new in json.dumps(answer) and old not in json.dumps(answer)
        for citation in answer["citations"]:
            assert http.get(f"/api/sources/{citation['chunk_id']}").status_code == 200
        assert http.get("/healthz").json()["index_version"] != version
        served_again = http.post("/api/chat", json={"message": approved_question}).json()
        assert served_again.get("approved") is True and served_again["citations"]
        for citation in served_again["citations"]:  # re-pointed at the chunk that replaced the deleted one
            assert http.get(f"/api/sources/{citation['chunk_id']}").status_code == 200


def test_a_service_started_during_the_first_ingest_is_not_ready(tmp_path, real_embedder):
    """During a first ingest a server reported healthy on part of the corpus."""
    from assistant.catalog import INDEX_VERSION, Catalog

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# Claims\n\nFile claims within 365 days.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", index_poll_seconds=0.3)
    assert Ingestor(settings, real_embedder, progress=False).run([corpus]).ok
    catalog = Catalog(settings.catalog_path)
    with catalog.transaction():  # as it is while the first ingest is still writing
        catalog._db.execute("DELETE FROM meta WHERE key = ?", (INDEX_VERSION,))
    with served(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        health = http.get("/healthz")
        assert health.status_code == 503 and "has not finished" in health.json()["error"]
        with catalog.transaction():
            catalog.set_meta(INDEX_VERSION, "complete")
        deadline = time.time() + 30
        while http.get("/healthz").status_code != 200 and time.time() < deadline:
            time.sleep(0.2)
        assert http.get("/healthz").json()["index_version"] == "complete"
    catalog.close()
