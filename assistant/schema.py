"""The typed records that flow from the loader to the citation a provider sees."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DocumentInfo:
    """What the corpus declares about one document (manifest entry, or defaults from the file)."""

    doc_id: str
    title: str
    source_path: str
    kind: str = "document"
    url: str | None = None
    region: str | None = None
    edition: str | None = None
    effective_date: str | None = None
    status: str = "current"
    supersedes: str | None = None
    superseded_by: str | None = None


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage with everything a citation needs."""

    chunk_id: str
    doc_id: str
    doc_title: str
    text: str
    embed_text: str
    source_path: str
    url: str | None
    section: str  # "5.3.1 Record Authorization Number" (number and title), "" before any heading
    heading_path: tuple[str, ...]
    sections: tuple[str, ...]  # every section number whose text this chunk holds
    page: int | None  # PDF page (1-based) where the chunk starts; None for pages without pagination
    page_end: int | None
    printed_page: str | None  # the page label printed on that page, e.g. "5-3" or "12"
    region: str | None
    edition: str | None
    status: str
    doc_hash: str  # content hash of the document version the chunk came from
    chunk_hash: str
    n: int  # position of the chunk within its document
    token_count: int

    def metadata(self) -> dict[str, str | int | float | bool]:
        """Flat metadata for the vector store (no None values, tuples as JSON)."""
        raw: dict[str, Any] = asdict(self)
        for key in ("chunk_id", "text", "embed_text"):
            raw.pop(key)
        raw["heading_path"] = json.dumps(self.heading_path)
        raw["sections"] = json.dumps(self.sections)
        return {k: v for k, v in raw.items() if v is not None}

    @classmethod
    def from_store(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from what the vector store returns."""
        return cls(
            chunk_id=chunk_id,
            text=text,
            embed_text=text,
            doc_id=meta["doc_id"],
            doc_title=meta["doc_title"],
            source_path=meta["source_path"],
            url=meta.get("url"),
            section=meta.get("section", ""),
            heading_path=tuple(json.loads(meta.get("heading_path", "[]"))),
            sections=tuple(json.loads(meta.get("sections", "[]"))),
            page=meta.get("page"),
            page_end=meta.get("page_end"),
            printed_page=meta.get("printed_page"),
            region=meta.get("region"),
            edition=meta.get("edition"),
            status=meta.get("status", "current"),
            doc_hash=meta["doc_hash"],
            chunk_hash=meta["chunk_hash"],
            n=int(meta["n"]),
            token_count=int(meta.get("token_count", 0)),
        )


@dataclass(frozen=True)
class Contact:
    """A phone number or e-mail address exactly as printed, with what it is given for."""

    value: str
    kind: str  # "phone" | "fax" | "email"
    context: str  # the sentence or table row that gives it
    department: str | None
    doc_id: str
    chunk_id: str
    section: str
    page: int | None
    printed_page: str | None
    region: str | None
    extra: dict[str, str] = field(default_factory=dict)
