"""Typed errors. Each carries an HTTP status and a stable code for the service's one handler."""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the product raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class IndexNotReady(AssistantError):
    """No index has been built yet in the data directory."""

    status_code = 503
    code = "index_not_ready"


class IndexModelMismatch(AssistantError):
    """The index was built with another embedding model than the one configured."""

    status_code = 409
    code = "index_model_mismatch"


class IngestBusy(AssistantError):
    """Another ingest holds the data directory's lock."""

    status_code = 409
    code = "ingest_busy"


class DocumentError(AssistantError):
    """One input file cannot be read; the message is the plain reason shown next to its path."""

    status_code = 422
    code = "document_unreadable"


class NotFound(AssistantError):
    """A record (inquiry, answer, document) that does not exist."""

    status_code = 404
    code = "not_found"


class Unauthorized(AssistantError):
    """A staff endpoint called without a valid bearer token."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AssistantError):
    """A valid token without the rights the action needs."""

    status_code = 403
    code = "forbidden"


class InvalidRequest(AssistantError):
    """A request whose body or parameters break a rule the schema cannot state; ``field`` names the culprit."""

    status_code = 422
    code = "invalid_request"

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class TooLarge(AssistantError):
    """A request body or question over the service's limit."""

    status_code = 413
    code = "too_large"


class RateLimited(AssistantError):
    """A client over its per-client limit; ``Retry-After`` says when to try again."""

    status_code = 429
    code = "rate_limited"
