"""The HTTP API with TestClient running the real lifespan over the bundled corpus index."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from fastapi.testclient import TestClient

from assistant.index import IndexSnapshot
from assistant.service import Assistant
from assistant.settings import Settings
from server import answer_pieces, create_app, highlights, iter_sse


@pytest.fixture(scope="module")
def settings(corpus_index, tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("api") / "data"
    shutil.copytree(corpus_index.settings.data_dir, data)
    return Settings(data_dir=data, allowed_origins=["https://portal.example.org"], max_message_chars=500,
                    rate_limits={"chat": "1000/minute"})


@pytest.fixture(scope="module")
def client(settings, real_embedder):
    assistant = Assistant(settings, IndexSnapshot.open(settings), real_embedder)
    with TestClient(create_app(settings, assistant)) as c:
        yield c


def _stream(client, body):
    with client.stream("POST", "/api/chat/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(iter_sse(response.iter_lines()))


def test_health_reports_the_index_and_model(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["documents"] == 24 and body["chunks"] > 400
    assert body["model"] == "all-MiniLM-L6-v2" and body["version"]


def test_chat_answers_with_the_contract_shape(client):
    response = client.post("/api/chat", json={"message": "who do I call about my rights under the agreement?"})
    assert response.status_code == 200 and response.headers["x-request-id"]
    answer = response.json()
    assert "503-813-3376" in answer["answer"] or any(c["phone"] == "503-813-3376" for c in answer["contacts"])
    assert answer["citations"] and answer["abstained"] is False


@pytest.mark.parametrize("body, status, reason", [
    ({}, 422, "message"),
    ({"message": ""}, 422, "message"),
    ({"message": "x" * 501}, 413, "limit is 500"),
    ({"message": "hi", "region": "Mars"}, 422, "region"),
    ({"message": "hi", "conversation_id": "../../etc"}, 422, "conversation_id"),
])
def test_bad_chat_requests_get_a_4xx_with_a_reason(client, body, status, reason):
    response = client.post("/api/chat", json=body)
    assert response.status_code == status
    assert reason in json.dumps(response.json())


def test_malformed_json_is_a_422(client):
    response = client.post("/api/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_stream_sends_meta_then_text_then_sources_then_done(client):
    events = _stream(client, {"message": "how long do I have to file a claim?"})
    names = [e for e, _ in events]
    assert names[0] == "meta" and names[-2:] == ["sources", "done"]
    assert set(names[1:-2]) == {"delta"} and len(names) > 3
    text = "".join(d["text"] for e, d in events if e == "delta")
    assert "365 days" in text and "[1]" in text
    sources = dict(events)["sources"]
    assert sources["citations"][0]["doc_id"] == "nw-manual-s05"


def test_conversation_history_sources_and_documents(client):
    first = client.post("/api/chat", json={"message": "where do I send the ownership and control disclosure?"}).json()
    client.post("/api/chat", json={"message": "what's their email?", "conversation_id": first["conversation_id"],
                                   "conversation_secret": first["conversation_secret"]})
    history = client.get(f"/api/conversations/{first['conversation_id']}",
                         headers={"X-Conversation-Secret": first["conversation_secret"]}).json()
    assert [m["question"] for m in history["messages"]] == ["where do I send the ownership and control disclosure?",
                                                            "what's their email?"]
    cited = first["citations"][0]
    source = client.get(f"/api/sources/{cited['chunk_id']}", params={"message_id": first["message_id"]}).json()
    assert source["doc_id"] == cited["doc_id"] and source["highlights"]
    start, end = source["highlights"][0]
    assert source["text"][start:end].split()[0] in cited["quote"]
    page = client.get(f"/docs/{cited['doc_id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    pdf = client.get("/docs/nw-manual-s05")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get("/docs/no-such-doc").status_code == 404
    assert client.get("/api/sources/nope").status_code == 404
    assert client.get("/api/conversations/c-unknown").status_code == 404


def test_feedback_is_stored_and_counted(client, settings):
    answer = client.post("/api/chat", json={"message": "what is the claims phone number?"}).json()
    stored = client.post("/api/feedback", json={"message_id": answer["message_id"], "rating": "down",
                                                "comment": "wanted the fax"})
    assert stored.status_code == 201
    rows = sqlite3.connect(settings.data_dir / "conversations.sqlite3").execute(
        "SELECT message_id, rating, comment FROM feedback").fetchall()
    assert (answer["message_id"], "down", "wanted the fax") in rows
    assert client.post("/api/feedback", json={"message_id": "m-unknown", "rating": "up"}).status_code == 404
    assert client.post("/api/feedback", json={"message_id": answer["message_id"], "rating": "meh"}).status_code == 422
    metrics = client.get("/metrics").text
    assert 'pa_feedback_total{rating="down"}' in metrics
    assert 'pa_http_requests_total{method="POST",route="/api/chat",status="200"}' in metrics
    assert 'pa_http_requests_total{method="POST",route="/api/chat",status="422"}' in metrics
    assert "pa_http_request_seconds_bucket" in metrics and "pa_abstentions_total" in metrics


def test_cors_allows_only_configured_portals(client):
    allowed = client.options("/api/chat", headers={"Origin": "https://portal.example.org",
                                                   "Access-Control-Request-Method": "POST"})
    assert allowed.headers.get("access-control-allow-origin") == "https://portal.example.org"
    other = client.options("/api/chat", headers={"Origin": "https://evil.example.com",
                                                 "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_lives_apart_from_documents(client):
    assert client.get("/docs-api").status_code == 200
    assert "/api/chat" in client.get("/openapi.json").json()["paths"]


def test_widget_and_portal_page_are_served(client):
    assert "attachShadow" in client.get("/widget.js").text
    assert '<script src="/widget.js"' in client.get("/").text


def test_member_identifiers_never_reach_the_logs(client, caplog):
    caplog.set_level("INFO", logger="provider_assistant.http")
    client.post("/api/chat", json={"message": "pt Maria Gonzalez DOB 4/2/1980 mbr# 11223344 needs an MRI auth?"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/api/chat" in logged and "Maria" not in logged and "11223344" not in logged


def test_without_an_index_the_service_starts_and_says_so(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path / "empty"))) as c:
        health = c.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "not_ready"
        chat = c.post("/api/chat", json={"message": "hello?"})
        assert chat.status_code == 503 and chat.json()["error"] == "index_not_ready"


def test_stream_pieces_and_highlights_are_pure():
    assert answer_pieces("One. [1] Two. [2] Contact: X.") == ["One. [1] ", "Two. [2] ", "Contact: X."]
    assert highlights("Alpha beta.\nGamma  delta.", "Gamma delta.") == [[12, 25]]
