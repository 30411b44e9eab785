"""The HTTP service: chat API (JSON and Server-Sent Events), sources, documents, feedback, health,
metrics, the embeddable widget and the demo portal page."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from assistant.errors import AssistantError, Forbidden, IndexNotReady
from assistant.service import Assistant
from assistant.settings import Settings, get_settings
from assistant.triage import STATUSES, Staff, TriageStore

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("provider_assistant.http")
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SENTENCE_WITH_MARK = re.compile(r".+?(?:\[\d+\]|$)(?:\s+|$)", re.DOTALL)


def package_version() -> str:
    try:
        return version("provider-assistant")
    except PackageNotFoundError:
        return "0+unknown"


# ---------------------------------------------------------------- request and response bodies


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, description="The provider's question.")
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    region: Literal["Northwest", "California"] | None = None


class EscalateRequest(BaseModel):
    conversation_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    organisation: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9()+.\-\sx]{7,40}$")
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
    note: str = Field(default="", max_length=4000)


class InquiryUpdate(BaseModel):
    status: Literal["new", "in_progress", "resolved"] | None = None
    assigned_to: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=4000)
    reply: str | None = Field(default=None, max_length=8000)
    approved: bool = False


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    admin: bool = False


class FeedbackRequest(BaseModel):
    message_id: str = Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    rating: Literal["up", "down"]
    comment: str | None = Field(default=None, max_length=2000)


# ---------------------------------------------------------------- metrics (Prometheus text format)


@dataclass
class Metrics:
    """Counters and a latency histogram, kept in process and rendered as Prometheus text."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=dict)
    latency: dict[str, list[int]] = field(default_factory=dict)
    latency_sum: dict[str, float] = field(default_factory=dict)
    answers: int = 0
    abstentions: int = 0
    urgent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            key = (method, route, status)
            self.requests[key] = self.requests.get(key, 0) + 1
            counts = self.latency.setdefault(route, [0] * (len(_BUCKETS) + 1))
            counts[next((i for i, b in enumerate(_BUCKETS) if seconds <= b), len(_BUCKETS))] += 1
            self.latency_sum[route] = self.latency_sum.get(route, 0.0) + seconds

    def answered(self, answer: dict[str, Any]) -> None:
        with self.lock:
            self.answers += 1
            self.abstentions += bool(answer.get("abstained"))
            self.urgent += bool(answer.get("urgent"))

    def render(self, feedback: dict[str, int]) -> str:
        lines = ["# HELP pa_http_requests_total HTTP requests by route and status.",
                 "# TYPE pa_http_requests_total counter"]
        with self.lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'pa_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
            lines += ["# HELP pa_http_request_seconds Request latency.", "# TYPE pa_http_request_seconds histogram"]
            for route, counts in sorted(self.latency.items()):
                running = 0
                for bound, n in zip([*map(str, _BUCKETS), "+Inf"], counts, strict=True):
                    running += n
                    lines.append(f'pa_http_request_seconds_bucket{{route="{route}",le="{bound}"}} {running}')
                lines.append(f'pa_http_request_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
                lines.append(f'pa_http_request_seconds_count{{route="{route}"}} {running}')
            lines += ["# TYPE pa_answers_total counter", f"pa_answers_total {self.answers}",
                      "# TYPE pa_abstentions_total counter", f"pa_abstentions_total {self.abstentions}",
                      "# TYPE pa_urgent_answers_total counter", f"pa_urgent_answers_total {self.urgent}",
                      "# TYPE pa_feedback_total counter"]
        for rating in ("up", "down"):
            lines.append(f'pa_feedback_total{{rating="{rating}"}} {feedback.get(rating, 0)}')
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- application state and dependencies


@dataclass
class State:
    settings: Settings
    metrics: Metrics
    triage: TriageStore
    assistant: Assistant | None = None
    error: str | None = None


def get_state(request: Request) -> State:
    return request.app.state.pa  # type: ignore[no-any-return]


StateDep = Annotated[State, Depends(get_state)]


def get_assistant(state: StateDep) -> Assistant:
    if state.assistant is None:
        raise IndexNotReady(state.error or "the index is not loaded yet; run 'provider-assistant ingest'")
    return state.assistant


AssistantDep = Annotated[Assistant, Depends(get_assistant)]


def get_staff(request: Request, state: StateDep) -> Staff:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return state.triage.authenticate(token)


StaffDep = Annotated[Staff, Depends(get_staff)]


def get_admin(staff: StaffDep) -> Staff:
    if not staff.admin:
        raise Forbidden("managing tokens needs an admin token")
    return staff


AdminDep = Annotated[Staff, Depends(get_admin)]


def inquiry_filters(status: str | None = None, category: str | None = None, urgent: bool | None = None,
                    max_age_days: float | None = None, q: str | None = None) -> dict[str, Any]:
    """The queue's filters from the query string (status, category, urgent, age in days, text)."""
    if status and status not in STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(STATUSES)}")
    return {"status": status, "category": category, "urgent": urgent, "max_age_days": max_age_days, "text": q}


FiltersDep = Annotated[dict[str, Any], Depends(inquiry_filters)]


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def answer_pieces(text: str) -> list[str]:
    """The answer cut into sentences with their citation marks, in order (what the stream sends)."""
    return [m.group() for m in _SENTENCE_WITH_MARK.finditer(text) if m.group().strip()]


def highlights(text: str, quote: str) -> list[list[int]]:
    """Character ranges of the quoted sentences in a passage (whitespace-tolerant)."""
    ranges = []
    for sentence in (s.strip() for s in quote.split(" … ") if s.strip()):
        pattern = r"\s+".join(re.escape(w) for w in sentence.split())
        m = re.search(pattern, text)
        if m:
            ranges.append([m.start(), m.end()])
    return ranges


# ---------------------------------------------------------------- the app


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The service. The lifespan loads the index, the model and the assistant once (or takes the one given,
    e.g. with a fake LLM writer for tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        triage = await run_in_threadpool(TriageStore.from_settings, settings)  # migrations run here
        state = State(settings, Metrics(), triage, assistant)
        app.state.pa = state
        if state.assistant is None:
            try:
                state.assistant = await run_in_threadpool(Assistant.from_settings, settings)
                await run_in_threadpool(state.assistant.embedder.embed_query, "warm up")
            except AssistantError as exc:
                state.error = exc.message
                log.error(json.dumps({"event": "startup", "error": exc.message}))
        if state.assistant is not None and state.assistant.approved is None:
            state.assistant.approved = triage
        yield
        triage.engine.dispose()

    app = FastAPI(title="Provider Assistant", version=package_version(), lifespan=lifespan,
                  docs_url="/docs-api", redoc_url=None, openapi_url="/openapi.json")
    app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins,
                       allow_methods=["GET", "POST", "PATCH"], allow_headers=["Content-Type", "Authorization"],
                       expose_headers=["X-Request-ID"])

    @app.middleware("http")
    async def request_log(request: Request, call_next: Any) -> Response:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        started = time.perf_counter()
        status = 500
        try:
            response: Response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            return response
        finally:
            seconds = time.perf_counter() - started
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            state = getattr(request.app.state, "pa", None)
            if state is not None:
                state.metrics.observe(request.method, path, status, seconds)
            # never the body: it may hold member identifiers
            log.info(json.dumps({"request_id": request_id, "method": request.method, "route": path,
                                 "status": status, "ms": round(seconds * 1000, 1)}))

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status_code)

    def check_size(state: State, message: str) -> None:
        if len(message) > state.settings.max_message_chars:
            raise HTTPException(413, f"message is {len(message)} characters; the limit is "
                                     f"{state.settings.max_message_chars}")
        if not message.strip():
            raise HTTPException(422, "message is empty")

    @app.post("/api/chat")
    def chat(body: ChatRequest, assistant: AssistantDep, state: StateDep) -> dict[str, Any]:
        check_size(state, body.message)
        answer = assistant.ask(body.message, body.conversation_id, body.region)
        state.metrics.answered(answer)
        state.triage.record_turn(answer, body.message)
        return answer

    @app.post("/api/chat/stream")
    async def chat_stream(body: ChatRequest, assistant: AssistantDep, state: StateDep) -> StreamingResponse:
        check_size(state, body.message)

        async def events() -> AsyncIterator[str]:
            try:
                answer = await run_in_threadpool(assistant.ask, body.message, body.conversation_id, body.region)
            except Exception as exc:  # the client gets an error event, never a dropped connection
                log.exception("stream failed")
                yield sse("error", {"error": type(exc).__name__, "detail": "the answer could not be produced"})
                return
            state.metrics.answered(answer)
            await run_in_threadpool(state.triage.record_turn, answer, body.message)
            yield sse("meta", {k: answer[k] for k in ("conversation_id", "message_id", "urgent", "abstained",
                                                      "phi_detected", "category", "confidence")})
            for piece in answer_pieces(answer["answer"]):
                yield sse("delta", {"text": piece})
            yield sse("sources", {"citations": answer["citations"], "contacts": answer["contacts"]})
            yield sse("done", {"timings_ms": answer["timings_ms"]})

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/conversations/{conversation_id}")
    def conversation(conversation_id: str, assistant: AssistantDep) -> dict[str, Any]:
        if not assistant.conversations.exists(conversation_id):
            raise HTTPException(404, f"no conversation {conversation_id}")
        turns = assistant.conversations.turns(conversation_id, limit=200)
        return {"conversation_id": conversation_id,
                "messages": [{"message_id": t.message_id, "question": t.question, "answer": t.answer} for t in turns]}

    @app.get("/api/sources/{chunk_id}")
    def source(chunk_id: str, assistant: AssistantDep, message_id: str | None = None) -> dict[str, Any]:
        chunk = assistant.snapshot.chunks.get(chunk_id)
        if chunk is None:
            raise HTTPException(404, f"no passage {chunk_id} in the current index")
        quote = ""
        if message_id:
            found = assistant.conversations.message(message_id)
            if found:
                quote = next((c["quote"] for c in found[1].answer.get("citations", [])
                              if c["chunk_id"] == chunk_id), "")
        anchor = f"#page={chunk.page}" if chunk.page else ""
        return {"chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "doc_title": chunk.doc_title,
                "section": chunk.section, "heading_path": list(chunk.heading_path), "page": chunk.page,
                "printed_page": chunk.printed_page, "url": f"/docs/{chunk.doc_id}{anchor}", "text": chunk.text,
                "highlights": highlights(chunk.text, quote) if quote else []}

    @app.get("/docs/{doc_id}", response_model=None)
    def document(doc_id: str, assistant: AssistantDep) -> FileResponse:
        record = assistant.snapshot.documents.get(doc_id)
        if record is None or not Path(record.source_path).is_file():
            raise HTTPException(404, f"no document {doc_id}")
        path = Path(record.source_path)
        media = {".pdf": "application/pdf", ".html": "text/html", ".htm": "text/html",
                 ".md": "text/markdown"}.get(path.suffix.lower(), "text/plain")
        return FileResponse(path, media_type=media, content_disposition_type="inline",
                            filename=path.name, headers={"Cache-Control": "no-cache"})

    @app.post("/api/feedback", status_code=201)
    def feedback(body: FeedbackRequest, assistant: AssistantDep, state: StateDep) -> dict[str, Any]:
        if assistant.conversations.message(body.message_id) is None:
            raise HTTPException(404, f"no answer {body.message_id}")
        feedback_id = assistant.conversations.add_feedback(body.message_id, body.rating, body.comment)
        state.triage.record_feedback(body.message_id, body.rating)
        return {"feedback_id": feedback_id, "message_id": body.message_id, "rating": body.rating}

    @app.post("/api/escalate", status_code=201)
    def escalate(body: EscalateRequest, state: StateDep) -> dict[str, Any]:
        if not (body.phone or body.email):
            raise HTTPException(422, "leave a phone number or an e-mail address so provider relations can reply")
        created = state.triage.escalate(conversation_id=body.conversation_id, name=body.name,
                                        organisation=body.organisation, phone=body.phone, email=body.email,
                                        note=body.note)
        return {**created, "message": f"Your reference number is {created['reference']}."}

    @app.get("/api/inquiries")
    def list_inquiries(staff: StaffDep, state: StateDep, filters: FiltersDep) -> dict[str, Any]:
        return {"inquiries": state.triage.list_inquiries(**filters)}

    @app.get("/api/inquiries.csv", response_class=PlainTextResponse)
    def export_inquiries(staff: StaffDep, state: StateDep, filters: FiltersDep) -> Response:
        import csv
        import io

        rows = state.triage.list_inquiries(**filters)
        buffer = io.StringIO()
        columns = ["reference", "created", "status", "urgent", "category", "organisation", "name",
                   "suggested_department", "assigned_to", "note"]
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return Response(buffer.getvalue(), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="inquiries.csv"'})

    @app.get("/api/inquiries/{inquiry_id}")
    def read_inquiry(inquiry_id: int, staff: StaffDep, state: StateDep) -> dict[str, Any]:
        return state.triage.get(inquiry_id)

    @app.patch("/api/inquiries/{inquiry_id}")
    def update_inquiry(inquiry_id: int, body: InquiryUpdate, staff: StaffDep, state: StateDep) -> dict[str, Any]:
        return state.triage.update(inquiry_id, staff, status=body.status, assigned_to=body.assigned_to,
                                   note=body.note, reply=body.reply, approved=body.approved)

    @app.get("/api/staff/analytics")
    def analytics(staff: StaffDep, state: StateDep, days: int = 30) -> dict[str, Any]:
        return state.triage.analytics(days)

    @app.get("/api/staff/tokens")
    def list_tokens(admin: AdminDep, state: StateDep) -> dict[str, Any]:
        return {"tokens": state.triage.list_tokens()}

    @app.post("/api/staff/tokens", status_code=201)
    def add_token(body: TokenRequest, admin: AdminDep, state: StateDep) -> dict[str, Any]:
        token = state.triage.add_token(body.name, body.admin)
        state.triage.audit_action(admin, "add_token", {"name": body.name, "admin": body.admin})
        return {"name": body.name, "admin": body.admin, "token": token}

    @app.get("/healthz")
    def healthz(state: StateDep) -> JSONResponse:
        a = state.assistant
        body: dict[str, Any] = {"status": "ok" if a else "not_ready", "version": package_version(),
                                "model": a.embedder.name if a else state.settings.embedding_model}
        if a:
            body.update(documents=len(a.snapshot.documents), chunks=len(a.snapshot.chunks),
                        collection=a.snapshot.collection)
        else:
            body["error"] = state.error
        return JSONResponse(body, status_code=200 if a else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics(state: StateDep) -> str:
        counts = state.assistant.conversations.feedback_counts() if state.assistant else {}
        return state.metrics.render(counts)

    for route, filename in (("/", "index.html"), ("/widget.js", "widget.js"), ("/staff", "staff.html"),
                            ("/staff.js", "staff.js")):
        app.add_api_route(route, static_file(filename), methods=["GET"], include_in_schema=False)
    return app


def static_file(filename: str) -> Any:
    """A route handler serving one file of static/ (the pages and their scripts)."""
    media = "text/javascript" if filename.endswith(".js") else "text/html"

    def serve() -> FileResponse:
        return FileResponse(STATIC / filename, media_type=media)

    return serve


# ---------------------------------------------------------------- `provider-assistant serve`

HELP = "run the HTTP service (chat API, widget, demo portal page)"


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("serve", parents=[parent], help=HELP, description=HELP)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    logging.getLogger("provider_assistant.http").setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    log.addHandler(handler)
    log.propagate = False
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def iter_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse a Server-Sent Events stream into (event, data) pairs (used by tests and benchmarks)."""
    event = "message"
    for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line.split(":", 1)[1])
            event = "message"
