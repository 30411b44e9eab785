"""Records passed between ingestion stages (internal to ingest/)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Line:
    """One line of document text after loading."""

    text: str
    page: int | None = None  # PDF page, 1-based
    heading_level: int | None = None  # explicit heading (HTML h1-h4, Markdown #)
    anchor: str | None = None  # HTML id of the heading, for links
    block_start: bool = False  # explicit start of a paragraph, list item or table row


@dataclass(frozen=True)
class LoadedDocument:
    """A file's text as lines, with what the loader learnt about its pages."""

    lines: list[Line]
    page_count: int = 0
    printed_pages: dict[int, str] = field(default_factory=dict)
    title: str | None = None


@dataclass(frozen=True)
class Segment:
    """A paragraph, list item or table row of a section, with the page it starts on."""

    text: str
    page: int | None


@dataclass(frozen=True)
class Section:
    """A heading and the text under it (up to the next heading)."""

    number: str  # "5.3.1", "" when the heading is not numbered
    title: str  # "Record Authorization Number"
    heading_path: tuple[str, ...]  # labels from the top-level heading down to this one
    segments: list[Segment]
    page: int | None
    anchor: str | None = None

    @property
    def label(self) -> str:
        return f"{self.number} {self.title}".strip() if self.number else self.title
