"""The HTTP service: chat API (JSON and Server-Sent Events), sources, documents, feedback, health,
metrics, the embeddable widget, the demo portal page and the staff API.

At the edge every request is bounded (body size before parsing, unknown fields refused, path integers
bounded), limited per client (429 with Retry-After), screened for member identifiers before anything is stored,
and answered with a documented error shape that never echoes its input. The service follows the index: a
completed ingest is picked up between requests without a restart (``IndexFollower``)."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.catalog import read_index_version
from assistant.errors import (
    AssistantError,
    Forbidden,
    IndexNotReady,
    InvalidRequest,
    NotFound,
    RateLimited,
    TooLarge,
    Unauthorized,
)
from assistant.safety import redact
from assistant.service import Assistant
from assistant.settings import Settings, get_settings
from assistant.triage import STATUSES, Staff, TriageStore, inquiries_csv

STATIC = Path(__file__).resolve().parent / "static"
log = logging.getLogger("provider_assistant.http")
_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SENTENCE_WITH_MARK = re.compile(r".+?(?:\[\d+\]|$)(?:\s+|$)", re.DOTALL)
MAX_ID = 2**31 - 1
# The pages are the service's own; they load scripts and data from it alone. Styles may be inline.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
# An ingested HTML or Markdown page is third-party content: no script, no form, no frame, an opaque origin.
DOCUMENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


def package_version() -> str:
    try:
        return version("provider-assistant")
    except PackageNotFoundError:
        return "0+unknown"


# ---------------------------------------------------------------- request and response bodies


def _plain_text(value: str) -> str:
    """Text a person typed: no lone surrogates (they cannot be stored) and no control characters but tab and
    line breaks."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("contains an invalid character (a lone UTF-16 surrogate)")
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise ValueError("contains a control character")
    return value


Text = Annotated[str, AfterValidator(_plain_text)]
Ident = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Secret = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(Body):
    message: Text = Field(min_length=1, description="The provider's question.")
    conversation_id: Ident | None = Field(default=None, description="A conversation the service issued.")
    conversation_secret: Secret | None = Field(default=None, description="The secret issued with it.")
    region: Text | None = Field(default=None, max_length=100, description="One of the regions the documents name.")


class EscalateRequest(Body):
    conversation_id: Ident | None = None
    conversation_secret: Secret | None = None
    name: Text = Field(min_length=1, max_length=200)
    organisation: Text = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40, pattern=r"^[0-9()+.\-\sx]{7,40}$")
    email: str | None = Field(default=None, max_length=200, pattern=r"^[^\s@]+@[^\s@]+\.[^\s@]+$")
    note: Text = Field(default="", max_length=4000)


class InquiryUpdate(Body):
    status: Literal["new", "in_progress", "resolved"] | None = None
    assigned_to: Text | None = Field(default=None, max_length=100)
    note: Text | None = Field(default=None, max_length=4000)
    reply: Text | None = Field(default=None, max_length=8000)
    approved: bool | None = Field(default=None, description="true: serve the reply as the approved answer; "
                                  "false: withdraw the approved answer; absent: leave it as it is.")


class TokenRequest(Body):
    name: Text = Field(min_length=1, max_length=100)
    admin: bool = False


class FeedbackRequest(Body):
    message_id: Ident
    rating: Literal["up", "down"]
    comment: Text | None = Field(default=None, max_length=2000)


class ErrorBody(BaseModel):
    """Every error but a validation error: a stable code and a reason for people."""

    error: str
    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    reasons = {400: "Bad request", 401: "No valid staff token", 403: "Not allowed",
               404: "Not found", 409: "Conflict", 413: "Body or question too large", 429: "Too many requests",
               503: "The index is not ready"}
    return {code: {"model": ErrorBody, "description": reasons[code]} for code in codes}


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
    reloads: int = 0
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
                      "# TYPE pa_index_reloads_total counter", f"pa_index_reloads_total {self.reloads}",
                      "# TYPE pa_feedback_total counter"]
        for rating in ("up", "down"):
            lines.append(f'pa_feedback_total{{rating="{rating}"}} {feedback.get(rating, 0)}')
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- per-client limits


class Limiter:
    """Moving-window limits per client and kind of request (the 'limits' library, in process)."""

    def __init__(self, limits: dict[str, str]) -> None:
        self.items: dict[str, list[RateLimitItem]] = {kind: parse_many(spec) for kind, spec in limits.items()}
        self.strategy = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, kind: str, client: str) -> None:
        """Count one request of ``kind`` from ``client``; RateLimited once over any of its limits."""
        for item in self.items.get(kind, []):
            if not self.strategy.hit(item, kind, client):
                self._refuse(item, kind, client)

    def check(self, kind: str, client: str) -> None:
        """RateLimited if ``client`` is already over a limit of ``kind``, without counting a request."""
        for item in self.items.get(kind, []):
            if not self.strategy.test(item, kind, client):
                self._refuse(item, kind, client)

    def _refuse(self, item: RateLimitItem, kind: str, client: str) -> None:
        reset, _ = self.strategy.get_window_stats(item, kind, client)
        wait = max(1, math.ceil(reset - time.time()))
        raise RateLimited(f"too many {kind} requests from this client; try again in {wait} s",
                          headers={"Retry-After": str(wait)})


def client_key(request: Request) -> str:
    """Who is asking, for limits and burst flags: the client address as the proxy headers give it, hashed."""
    host = request.client.host if request.client else "unknown"
    return sha256(host.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- following the index


class IndexFollower(threading.Thread):
    """Polls the catalog for a completed ingest (a new index version) and swaps the assistant between
    requests: a request holds the assistant it started with, so none sees half an index."""

    def __init__(self, state: State, build: Callable[[Assistant | None], Assistant]) -> None:
        super().__init__(name="index-follower", daemon=True)
        self.state, self.build = state, build
        self.stopped = threading.Event()

    def current_version(self) -> str | None:
        return read_index_version(self.state.settings.catalog_path)

    def run(self) -> None:
        while not self.stopped.wait(self.state.settings.index_poll_seconds):
            try:
                self.check()
            except Exception:  # the service keeps answering from the index it has
                log.error(json.dumps({"event": "index_reload_failed", "trace": _frames()}))

    def check(self) -> bool:
        """Swap to the newest complete index if there is one; whether a swap happened."""
        seen = self.state.assistant.snapshot.version if self.state.assistant else None
        newest = self.current_version()
        if newest is None or newest == seen:
            return False
        started = time.perf_counter()
        fresh = self.build(self.state.assistant)
        if fresh.snapshot.version != self.current_version():
            return False  # another ingest completed meanwhile: take that one on the next poll
        fresh.approved = self.state.triage
        self.state.triage.phi = fresh.phi
        self.state.assistant, self.state.error = fresh, None
        with self.state.metrics.lock:
            self.state.metrics.reloads += 1
        log.info(json.dumps({"event": "index_reloaded", "version": newest,
                             "ms": round((time.perf_counter() - started) * 1000, 1)}))
        return True


# ---------------------------------------------------------------- application state and dependencies


@dataclass
class State:
    settings: Settings
    metrics: Metrics
    triage: TriageStore
    limiter: Limiter
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
bearer = HTTPBearer(auto_error=False, description="A staff token (`provider-assistant staff add-token NAME`).")


def get_staff(request: Request, state: StateDep,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Staff:
    client = client_key(request)
    state.limiter.check("staff_sign_in", client)  # over the limit: no token is even looked at
    try:
        return state.triage.authenticate(credentials.credentials if credentials else None, client=client)
    except Unauthorized:
        state.limiter.hit("staff_sign_in", client)  # guessing tokens meets a limit too
        raise


StaffDep = Annotated[Staff, Depends(get_staff)]


def get_admin(staff: StaffDep) -> Staff:
    if not staff.admin:
        raise Forbidden("managing tokens needs an admin token")
    return staff


AdminDep = Annotated[Staff, Depends(get_admin)]


def limited(kind: str) -> Any:
    """A dependency counting one request of ``kind`` against the client's limit."""

    def check(request: Request, state: StateDep) -> None:
        state.limiter.hit(kind, client_key(request))

    return Depends(check)


def inquiry_filters(status: Literal["new", "in_progress", "resolved"] | None = None,
                    category: Annotated[str | None, Query(max_length=60)] = None, urgent: bool | None = None,
                    max_age_days: Annotated[float | None, Query(ge=0, le=36500)] = None,
                    q: Annotated[str | None, Query(max_length=200)] = None) -> dict[str, Any]:
    """The queue's filters from the query string (status, category, urgent, age in days, text)."""
    assert status is None or status in STATUSES
    return {"status": status, "category": category, "urgent": urgent, "max_age_days": max_age_days, "text": q}


FiltersDep = Annotated[dict[str, Any], Depends(inquiry_filters)]
InquiryId = Annotated[int, PathParam(ge=1, le=MAX_ID)]


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


def _frames() -> list[str]:
    """Where the current exception was raised, as file:line:function frames: never its message or locals,
    which may hold what a provider typed."""
    return [f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in traceback.extract_tb(sys.exc_info()[2])]


# ---------------------------------------------------------------- ASGI guards


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413 before anything parses it (by Content-Length, or
    by counting a chunked body as it arrives)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _send_json(send, 413, {"error": TooLarge.code, "detail": f"the body is over {self.limit} bytes"})
            return
        received = 0

        async def counted() -> MutableMapping[str, Any]:
            nonlocal received
            message: MutableMapping[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _send_json(send, 413, {"error": TooLarge.code, "detail": f"the body is over {self.limit} bytes"})


class _BodyTooLarge(Exception):
    pass


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's validation errors without the ``input`` and ``ctx`` they carry: the input may be what a
    provider typed, member identifiers included."""
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "invalid")), "type": str(e.get("type", ""))}
            for e in exc.errors()]


# ---------------------------------------------------------------- the app


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    """The service. The lifespan loads the index, the model and the assistant once (or takes the one given,
    e.g. with a fake LLM writer for tests) and starts following the index."""
    settings = settings or get_settings()

    def build(previous: Assistant | None) -> Assistant:
        if previous is not None:
            return previous.reloaded()
        fresh = Assistant.from_settings(settings)
        fresh.embedder.embed_query("warm up")
        return fresh

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        triage = await run_in_threadpool(TriageStore.from_settings, settings)  # migrations run here
        state = State(settings, Metrics(), triage, Limiter(settings.rate_limits), assistant)
        app.state.pa = state
        if state.assistant is None:
            try:
                state.assistant = await run_in_threadpool(build, None)
            except AssistantError as exc:
                state.error = exc.message
                log.error(json.dumps({"event": "startup", "error": exc.message}))
        if state.assistant is not None:
            if state.assistant.approved is None:
                state.assistant.approved = triage
            triage.phi = state.assistant.phi
        follower = IndexFollower(state, build)
        follower.start()
        app.state.follower = follower
        yield
        follower.stopped.set()
        triage.engine.dispose()

    app = FastAPI(title="Provider Assistant", version=package_version(), lifespan=lifespan,
                  docs_url="/docs-api", redoc_url=None, openapi_url="/openapi.json")
    app.add_middleware(CORSMiddleware, allow_origins=settings.allowed_origins,
                       allow_methods=["GET", "POST", "PATCH", "DELETE"],
                       allow_headers=["Content-Type", "Authorization", "X-Conversation-Secret"],
                       expose_headers=["X-Request-ID", "Retry-After"])
    if settings.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)

    @app.middleware("http")
    async def request_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = re.sub(r"[^A-Za-z0-9_-]", "", request.headers.get("x-request-id", ""))[:64] \
            or uuid.uuid4().hex[:16]
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await call_next(request)
            except Exception as exc:  # here, not in an exception handler: Starlette re-raises from those, and
                # the server would then log the exception's message, which may quote what a provider typed
                log.error(json.dumps({"event": "unhandled", "error": type(exc).__name__, "request_id": request_id,
                                      "trace": _frames()}))
                response = JSONResponse({"error": "internal_error", "detail": "the request could not be handled"},
                                        status_code=500)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            _security_headers(request, response)
            return response
        finally:
            seconds = time.perf_counter() - started
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            state = getattr(request.app.state, "pa", None)
            if state is not None:
                state.metrics.observe(request.method, path, status, seconds)
            # never the body or the query string: they may hold member identifiers
            log.info(json.dumps({"request_id": request_id, "method": request.method, "route": path,
                                 "status": status, "ms": round(seconds * 1000, 1)}))

    @app.exception_handler(AssistantError)
    async def assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
        if isinstance(exc, InvalidRequest):
            return JSONResponse({"detail": [{"loc": ["body", exc.field], "msg": exc.message,
                                             "type": exc.code}]}, status_code=422)
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, _BodyTooLarge) or isinstance(exc.__context__, _BodyTooLarge):
            return JSONResponse({"error": TooLarge.code, "detail": "the body is over the service's limit"},
                                status_code=413)
        if exc.status_code == 400:  # a body that is not JSON in UTF-8: a validation error like any other
            return JSONResponse({"detail": [{"loc": ["body"], "msg": "the body is not valid JSON (UTF-8)",
                                             "type": "json_invalid"}]}, status_code=422)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_details(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(json.dumps({"event": "unhandled", "error": type(exc).__name__, "route": request.url.path,
                              "trace": _frames()}))
        return JSONResponse({"error": "internal_error", "detail": "the request could not be handled"},
                            status_code=500)

    def check_message(state: State, assistant: Assistant, body: ChatRequest) -> None:
        if len(body.message) > state.settings.max_message_chars:
            raise TooLarge(f"message is {len(body.message)} characters; the limit is "
                           f"{state.settings.max_message_chars}")
        if not body.message.strip():
            raise InvalidRequest("message is empty", "message")
        if body.region is not None and body.region not in assistant.regions:
            raise InvalidRequest(f"region must be one of {', '.join(sorted(assistant.regions)) or '(none)'}",
                                 "region")

    def conversation_for(assistant: Assistant, body: ChatRequest) -> tuple[str, str | None]:
        """The conversation to answer in: the client's own (its secret checked) or a new one the service issues,
        with the secret to return (once)."""
        if body.conversation_id is None:
            return assistant.conversations.create(body.region)
        check_secret(assistant, body.conversation_id, body.conversation_secret)
        return body.conversation_id, None

    @app.post("/api/chat", responses=_errors(403, 404, 413, 429, 503))
    def chat(body: ChatRequest, assistant: AssistantDep, state: StateDep,
             _: None = limited("chat")) -> dict[str, Any]:
        check_message(state, assistant, body)
        conversation_id, secret = conversation_for(assistant, body)
        answer = assistant.ask(body.message, conversation_id, body.region)
        state.metrics.answered(answer)
        state.triage.record_turn(answer, body.message)
        return {**answer, **({"conversation_secret": secret} if secret else {})}

    @app.post("/api/chat/stream", response_class=StreamingResponse,
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "meta, delta…, sources, done (or error)"},
                         **_errors(403, 404, 413, 429, 503)})
    async def chat_stream(body: ChatRequest, assistant: AssistantDep, state: StateDep,
                          _: None = limited("chat")) -> StreamingResponse:
        check_message(state, assistant, body)
        conversation_id, secret = await run_in_threadpool(conversation_for, assistant, body)

        async def events() -> AsyncIterator[str]:
            try:
                answer = await run_in_threadpool(assistant.ask, body.message, conversation_id, body.region)
                await run_in_threadpool(state.triage.record_turn, answer, body.message)
            except Exception as exc:  # the client gets an error event, never a dropped connection
                log.error(json.dumps({"event": "stream_failed", "error": type(exc).__name__, "trace": _frames()}))
                yield sse("error", {"error": type(exc).__name__, "detail": "the answer could not be produced"})
                return
            state.metrics.answered(answer)
            meta = {k: answer[k] for k in ("conversation_id", "message_id", "urgent", "abstained", "phi_detected",
                                           "category", "confidence")}
            yield sse("meta", {**meta, **({"conversation_secret": secret} if secret else {})})
            for piece in answer_pieces(answer["answer"]):
                yield sse("delta", {"text": piece})
            yield sse("sources", {"citations": answer["citations"], "contacts": answer["contacts"]})
            yield sse("done", {"timings_ms": answer["timings_ms"]})

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def check_secret(assistant: Assistant, conversation_id: str, secret: str | None) -> None:
        known = assistant.conversations.verify(conversation_id, secret)
        if known is None:
            raise NotFound(f"no conversation {conversation_id}")
        if not known:
            raise Forbidden("this conversation needs the secret it was issued with")

    @app.get("/api/conversations/{conversation_id}", responses=_errors(403, 404, 429, 503))
    def conversation(conversation_id: Annotated[str, PathParam(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
                     assistant: AssistantDep,
                     x_conversation_secret: Annotated[str | None, Header(max_length=128)] = None,
                     _: None = limited("conversation")) -> dict[str, Any]:
        check_secret(assistant, conversation_id, x_conversation_secret)
        turns = assistant.conversations.turns(conversation_id, limit=200)
        return {"conversation_id": conversation_id,
                "messages": [{"message_id": t.message_id, "question": t.question, "answer": t.answer} for t in turns]}

    @app.get("/api/sources/{chunk_id}", responses=_errors(404, 503))
    def source(chunk_id: Annotated[str, PathParam(max_length=200)], assistant: AssistantDep,
               message_id: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
        chunk = assistant.snapshot.chunks.get(chunk_id)
        if chunk is None:
            raise NotFound(f"no passage {chunk_id} in the current index")
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

    @app.get("/docs/{doc_id}", response_class=FileResponse,
             responses={200: {"content": {"application/pdf": {}, "text/html": {}, "text/plain": {}},
                              "description": "The source document"}, **_errors(404, 503)})
    def document(doc_id: Annotated[str, PathParam(max_length=200)], assistant: AssistantDep) -> FileResponse:
        record = assistant.snapshot.documents.get(doc_id)
        if record is None or not Path(record.source_path).is_file():
            raise NotFound(f"no document {doc_id}")
        path = Path(record.source_path)
        media = {".pdf": "application/pdf", ".html": "text/html", ".htm": "text/html"}.get(path.suffix.lower(),
                                                                                          "text/plain")
        headers = {"Cache-Control": "no-cache"}
        if media != "application/pdf":  # a PDF viewer refuses a sandbox; a page must not run on this origin
            headers["Content-Security-Policy"] = DOCUMENT_CSP
        return FileResponse(path, media_type=media, content_disposition_type="inline", filename=path.name,
                            headers=headers)

    @app.post("/api/feedback", status_code=201, responses=_errors(404, 413, 429, 503))
    def feedback(body: FeedbackRequest, assistant: AssistantDep, state: StateDep,
                 _: None = limited("feedback")) -> dict[str, Any]:
        if assistant.conversations.message(body.message_id) is None:
            raise NotFound(f"no answer {body.message_id}")
        comment = redact(body.comment, assistant.phi) if body.comment else None
        feedback_id = assistant.conversations.add_feedback(body.message_id, body.rating, comment)
        state.triage.record_feedback(body.message_id, body.rating, comment)
        return {"feedback_id": feedback_id, "message_id": body.message_id, "rating": body.rating}

    @app.post("/api/escalate", status_code=201, responses=_errors(403, 404, 413, 429, 503))
    def escalate(request: Request, body: EscalateRequest, state: StateDep, response: Response,
                 _: None = limited("escalate")) -> dict[str, Any]:
        if not (body.phone or body.email):
            raise InvalidRequest("leave a phone number or an e-mail address so provider relations can reply", "phone")
        if body.conversation_id is not None:
            if state.assistant is None:
                raise IndexNotReady(state.error or "the index is not loaded yet")
            check_secret(state.assistant, body.conversation_id, body.conversation_secret)
        created = state.triage.escalate(conversation_id=body.conversation_id, name=body.name,
                                        organisation=body.organisation, phone=body.phone, email=body.email,
                                        note=body.note, client=client_key(request))
        if created.get("existing"):
            response.status_code = 200  # the open inquiry of this conversation: a retry, not a new one
            message = f"Your conversation is already with provider relations as {created['reference']}."
        else:
            message = f"Your reference number is {created['reference']}."
        return {**created, "message": message}

    @app.get("/api/inquiries", responses=_errors(401, 429))
    def list_inquiries(staff: StaffDep, state: StateDep, filters: FiltersDep,
                       limit: Annotated[int, Query(ge=1, le=200)] = 50,
                       offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> dict[str, Any]:
        return {"inquiries": state.triage.list_inquiries(**filters, limit=limit, offset=offset),
                "total": state.triage.count_inquiries(**filters), "limit": limit, "offset": offset}

    @app.get("/api/inquiries.csv", response_class=Response,
             responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                              "description": "The whole queue as CSV"},
                        **_errors(401, 429)})
    def export_inquiries(staff: StaffDep, state: StateDep, filters: FiltersDep) -> Response:
        rows: list[dict[str, Any]] = []
        while True:  # the whole queue, page by page
            page = state.triage.list_inquiries(**filters, limit=200, offset=len(rows))
            rows += page
            if len(page) < 200:
                break
        return Response(inquiries_csv(rows), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="inquiries.csv"'})

    @app.get("/api/inquiries/{inquiry_id}", responses=_errors(401, 404, 429))
    def read_inquiry(inquiry_id: InquiryId, staff: StaffDep, state: StateDep) -> dict[str, Any]:
        return state.triage.get(inquiry_id)

    @app.patch("/api/inquiries/{inquiry_id}", responses=_errors(401, 404, 413, 429))
    def update_inquiry(inquiry_id: InquiryId, body: InquiryUpdate, staff: StaffDep, state: StateDep) -> dict[str, Any]:
        if body.approved and not body.reply and not state.triage.get(inquiry_id).get("reply"):
            raise InvalidRequest("an approved answer needs a reply", "reply")
        return state.triage.update(inquiry_id, staff, status=body.status, assigned_to=body.assigned_to,
                                   note=body.note, reply=body.reply, approved=body.approved)

    @app.get("/api/staff/analytics", responses=_errors(401, 429))
    def analytics(staff: StaffDep, state: StateDep, days: Annotated[int, Query(ge=1, le=3650)] = 30) -> dict[str, Any]:
        return state.triage.analytics(days)

    @app.get("/api/staff/audit", responses=_errors(401, 403, 429))
    def audit_log(admin: AdminDep, state: StateDep, limit: Annotated[int, Query(ge=1, le=500)] = 200,
                  offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> dict[str, Any]:
        return {"entries": state.triage.audit_log(limit=limit, offset=offset)}

    @app.get("/api/staff/tokens", responses=_errors(401, 403, 429))
    def list_tokens(admin: AdminDep, state: StateDep) -> dict[str, Any]:
        return {"tokens": state.triage.list_tokens()}

    @app.post("/api/staff/tokens", status_code=201, responses=_errors(401, 403, 413, 429))
    def add_token(body: TokenRequest, admin: AdminDep, state: StateDep) -> dict[str, Any]:
        token = state.triage.add_token(body.name, body.admin, actor=admin.name)
        return {"name": body.name, "admin": body.admin, "token": token}

    @app.delete("/api/staff/tokens/{token_id}", responses=_errors(401, 403, 404, 429))
    def revoke_token(token_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], admin: AdminDep,
                     state: StateDep) -> dict[str, Any]:
        state.triage.revoke_token(token_id, actor=admin.name)
        return {"id": token_id, "revoked": True}

    @app.get("/healthz", responses={503: {"description": "No complete index yet"}})
    def healthz(state: StateDep) -> JSONResponse:
        a = state.assistant
        body: dict[str, Any] = {"status": "ok" if a else "not_ready", "version": package_version(),
                                "model": a.embedder.name if a else state.settings.embedding_model}
        if a:
            body.update(documents=len(a.snapshot.documents), chunks=len(a.snapshot.chunks),
                        collection=a.snapshot.collection, index_version=a.snapshot.version)
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


def _security_headers(request: Request, response: Response) -> None:
    """Headers every response carries; the pages get a strict CSP (the API docs page loads its own assets)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.url.path.startswith("/docs-api"):
        return
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    if request.url.path.startswith(("/api/", "/staff")):
        response.headers.setdefault("Cache-Control", "no-store")


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
    # proxy headers are honoured by the app itself, only from PA_TRUSTED_PROXIES
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", proxy_headers=False)
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
