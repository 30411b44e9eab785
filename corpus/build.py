#!/usr/bin/env python3
"""Render the bundled corpus's manual sections and policies from Markdown to PDF.

Each document in ``corpus/manifest.yaml`` that has a ``source`` (a file under ``src/manual/``,
written in the Markdown subset that ``corpus/README.md`` describes) is rendered with reportlab
into its ``file``: a cover block and table of contents on front-matter pages numbered i, ii, ...;
the body from a new page, numbered by the manifest's ``page_label`` template; a running header
and footer on every page; headings as PDF bookmarks. Output is byte-for-byte deterministic, so
the committed PDFs can be checked against their sources (``--check``).

Usage::

    python corpus/build.py                 # render every document with a source
    python corpus/build.py nw-manual-s05   # render the named documents only
    python corpus/build.py --check         # exit 1 if a committed PDF is out of step
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

CORPUS_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = CORPUS_DIR / "manifest.yaml"

PAGE_SIZE = letter
MARGIN = 0.9 * inch
FRAME_WIDTH = PAGE_SIZE[0] - 2 * MARGIN
HEADER_Y = PAGE_SIZE[1] - 0.55 * inch
FOOTER_Y = 0.5 * inch

AUTHOR = "Provider Assistant sample corpus"
CREATOR = "Provider Assistant corpus/build.py (reportlab)"
SAMPLE_EDITION_LINE = (
    "Sample edition for demonstration: written for the Provider Assistant project; "
    "not an official Kaiser Permanente document."
)
HEADER_LEFT = {"manual_section": "Kaiser Permanente Northwest Provider Manual",
               "policy": "Kaiser Permanente Northwest"}
COVER_KIND = {"manual_section": "Kaiser Permanente Northwest -- Provider Manual",
              "policy": "Kaiser Permanente Northwest -- Policy"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


# --------------------------------------------------------------------------------------------
# Markdown subset -> blocks
# --------------------------------------------------------------------------------------------

class MarkdownError(ValueError):
    """A source line outside the supported Markdown subset; names the file and line."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source = source
        self.line = line


@dataclass(frozen=True)
class TitleBlock:
    text: str
    line: int


@dataclass(frozen=True)
class HeadingBlock:
    level: int                 # 2, 3 or 4 (number of '#')
    number: tuple[int, ...]    # (5, 3, 1) for "5.3.1"
    text: str                  # the heading as written, number included: "5.3.1 Record ..."
    line: int

    @property
    def key(self) -> str:
        """Stable bookmark key for this heading number, e.g. ``sec-5.3.1``."""
        return "sec-" + ".".join(str(n) for n in self.number)


@dataclass(frozen=True)
class ParagraphBlock:
    text: str
    line: int


@dataclass(frozen=True)
class BulletsBlock:
    items: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class StepsBlock:
    items: tuple[str, ...]
    start: int
    line: int


@dataclass(frozen=True)
class TableBlock:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    line: int


@dataclass(frozen=True)
class CalloutBlock:
    paragraphs: tuple[str, ...]
    line: int


Block = (TitleBlock | HeadingBlock | ParagraphBlock | BulletsBlock | StepsBlock | TableBlock
         | CalloutBlock)

_HEADING = re.compile(r"^(#{2,4}) (\S.*)$")
_HEADING_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+(\S.*)$")
_BULLET = re.compile(r"^- (\S.*)$")
_STEP = re.compile(r"^(\d+)\. (\S.*)$")
_TABLE_SEPARATOR_CELL = re.compile(r"^:?-+:?$")
_UNSUPPORTED_LINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\s*(```|~~~)"), "fenced code blocks are not supported"),
    (re.compile(r"^\s*[*+]\s"), "use '- ' for bullets ('* ' and '+ ' are not supported)"),
    (re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$"), "horizontal rules are not supported"),
    (re.compile(r"^\s*=+\s*$"), "setext ('===') headings are not supported; use '## N.N Title'"),
    (re.compile(r"^\s+(-|\d+\.)\s"), "nested lists are not supported (one level only)"),
    (re.compile(r"^\s*\d+\)\s"), "numbered steps are written '1. step', not '1) step'"),
    (re.compile(r"^#####"), "only '#', '##', '###' and '####' headings are supported"),
    (re.compile(r"^#+[^#\s]"), "a heading needs a space after the '#' marks"),
)
_UNSUPPORTED_INLINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[[^\]]*\]\("), "images are not supported"),
    (re.compile(r"\[[^\]]*\]\([^)]*\)"), "link syntax is not supported; write URLs as plain text"),
    (re.compile(r"`"), "inline code (backticks) is not supported"),
    (re.compile(r"</?[A-Za-z!][^>]*>"), "HTML tags are not supported"),
    (re.compile(r"~~"), "strikethrough is not supported"),
)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_SINGLE_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])[^*]*?[^\s*]\*(?![\w*])")


def _check_inline(text: str, source: str, line: int) -> None:
    """Raise MarkdownError if ``text`` uses inline syntax other than ``**bold**``."""
    for pattern, reason in _UNSUPPORTED_INLINE:
        if pattern.search(text):
            raise MarkdownError(source, line, f"{reason}: {text!r}")
    if "\u2022" in text:
        raise MarkdownError(source, line, "the '\u2022' character comes out of PDF text "
                            f"extraction as a control code; use '- ' bullets: {text!r}")
    try:
        text.encode("cp1252")
    except UnicodeEncodeError as exc:
        bad = text[exc.start:exc.end]
        raise MarkdownError(source, line, f"character {bad!r} (U+{ord(bad[0]):04X}) cannot be "
                            "set in the PDF's Helvetica font; use plain ASCII") from None


def _check_emphasis(text: str, source: str, line: int) -> str:
    """Raise MarkdownError on an unmatched '**' or '*single*' emphasis in a joined block text."""
    rest = _BOLD.sub("", text)
    if "**" in rest:
        raise MarkdownError(source, line, f"unmatched '**' (bold must open and close within "
                            f"one paragraph, item or cell): {text!r}")
    if _SINGLE_EMPHASIS.search(rest):
        raise MarkdownError(source, line, f"'*italic*' is not supported (only **bold**): {text!r}")
    return text


def _check_line(text: str, source: str, line: int) -> None:
    for pattern, reason in _UNSUPPORTED_LINE:
        if pattern.search(text):
            raise MarkdownError(source, line, f"{reason}: {text!r}")


def _kind(text: str) -> str:
    """Classify one non-blank line by the block it starts."""
    if text.startswith("#"):
        return "heading"
    if text.startswith(">"):
        return "callout"
    if text.startswith("|"):
        return "table"
    if _BULLET.match(text) or text == "-":
        return "bullet"
    if _STEP.match(text):
        return "step"
    if text[:1].isspace():
        return "indented"
    return "text"


def _split_row(text: str, source: str, line: int) -> tuple[str, ...]:
    stripped = text.strip()
    if not (stripped.startswith("|") and stripped.endswith("|")) or len(stripped) < 2:
        raise MarkdownError(source, line, f"table rows must start and end with '|': {text!r}")
    return tuple(cell.strip() for cell in stripped[1:-1].split("|"))


class _Numbering:
    """Checks that heading numbers increase in order, without gaps, at the right depth."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.base_depth: int | None = None
        self.previous: tuple[int, ...] | None = None

    def expected(self) -> list[tuple[int, ...]]:
        prev, base = self.previous, self.base_depth
        assert prev is not None and base is not None
        options = [prev + (1,)]
        options += [prev[:k - 1] + (prev[k - 1] + 1,) for k in range(len(prev), base - 1, -1)]
        if base > 1:  # a combined download moves on to the next section: 1.5 -> 2.1
            options.append((prev[0] + 1,) + (1,) * (base - 1))
        return options

    def accept(self, level: int, number: tuple[int, ...], line: int) -> None:
        if self.base_depth is None:
            if level != 2:
                raise MarkdownError(self.source, line, "the first heading must be a '##' heading")
            if number[-1] != 1:
                raise MarkdownError(self.source, line,
                                    f"the first heading should be numbered ...1, not {_dotted(number)}")
            self.base_depth = len(number)
        depth = self.base_depth + level - 2
        if len(number) != depth:
            raise MarkdownError(self.source, line, f"a {'#' * level} heading needs a {depth}-part "
                                f"number (like the first '##' heading's depth + {level - 2}), "
                                f"got {_dotted(number)}")
        if self.previous is not None and number not in self.expected():
            allowed = ", ".join(_dotted(n) for n in self.expected() if len(n) - self.base_depth <= 2)
            raise MarkdownError(self.source, line, f"heading number {_dotted(number)} does not "
                                f"follow {_dotted(self.previous)} (expected one of: {allowed})")
        self.previous = number


def _dotted(number: tuple[int, ...]) -> str:
    return ".".join(str(n) for n in number)


def _parse_heading(text: str, source: str, line: int, numbering: _Numbering) -> HeadingBlock:
    match = _HEADING.match(text)
    if text.startswith("# ") or text == "#":
        raise MarkdownError(source, line, "only line 1 may be a '# ' title; "
                            "use '##'/'###'/'####' for numbered headings")
    if not match:
        raise MarkdownError(source, line, f"malformed heading: {text!r}")
    level, body = len(match.group(1)), match.group(2).strip()
    number_match = _HEADING_NUMBER.match(body)
    if not number_match:
        raise MarkdownError(source, line, f"headings must start with their number "
                            f"(e.g. '## 5.1 Whom to Contact'): {text!r}")
    number = tuple(int(part) for part in number_match.group(1).split("."))
    _check_inline(body, source, line)
    _check_emphasis(body, source, line)
    numbering.accept(level, number, line)
    return HeadingBlock(level=level, number=number, text=body, line=line)


def parse_markdown(text: str, source: str = "<string>") -> list[Block]:
    """Parse the corpus Markdown subset into blocks; raise MarkdownError naming source and line."""
    lines = [raw.rstrip() for raw in text.lstrip("\ufeff").splitlines()]
    if not lines or not lines[0].startswith("# ") or not lines[0][2:].strip():
        raise MarkdownError(source, 1, "line 1 must be the document title: '# Title'")
    _check_inline(lines[0][2:], source, 1)
    _check_emphasis(lines[0][2:], source, 1)
    blocks: list[Block] = [TitleBlock(text=lines[0][2:].strip(), line=1)]
    numbering = _Numbering(source)
    i = 1
    while i < len(lines):
        text, line = lines[i], i + 1
        if not text.strip():
            i += 1
            continue
        _check_line(text, source, line)
        kind = _kind(text)
        if kind == "heading":
            blocks.append(_parse_heading(text, source, line, numbering))
            i += 1
        elif kind == "indented":
            raise MarkdownError(source, line, f"unexpected indentation (indented code blocks "
                                f"are not supported): {text!r}")
        elif kind == "text":
            i = _parse_paragraph(lines, i, source, blocks)
        elif kind in ("bullet", "step"):
            i = _parse_list(lines, i, source, blocks, kind)
        elif kind == "table":
            i = _parse_table(lines, i, source, blocks)
        else:
            i = _parse_callout(lines, i, source, blocks)
    return blocks


def _parse_paragraph(lines: list[str], i: int, source: str, blocks: list[Block]) -> int:
    start, parts = i, []
    while i < len(lines) and lines[i].strip() and _kind(lines[i]) in ("text", "indented"):
        _check_line(lines[i], source, i + 1)
        _check_inline(lines[i], source, i + 1)
        parts.append(lines[i].strip())
        i += 1
    text = _check_emphasis(" ".join(parts), source, start + 1)
    blocks.append(ParagraphBlock(text=text, line=start + 1))
    return i


def _parse_list(lines: list[str], i: int, source: str, blocks: list[Block], kind: str) -> int:
    start, first_number = i, 1
    items: list[str] = []
    pattern = _BULLET if kind == "bullet" else _STEP
    while i < len(lines):
        text, line = lines[i], i + 1
        if not text.strip():
            # a blank line ends the list unless the next line is another item of the same kind
            if i + 1 < len(lines) and lines[i + 1].strip() and _kind(lines[i + 1]) == kind:
                i += 1
                continue
            break
        _check_line(text, source, line)
        this_kind = _kind(text)
        if this_kind == kind:
            match = pattern.match(text)
            if not match:
                raise MarkdownError(source, line, f"empty list item: {text!r}")
            item = match.group(match.lastindex or 1)
            if kind == "step" and not items:
                first_number = int(match.group(1))
            _check_inline(item, source, line)
            items.append(item.strip())
        elif this_kind in ("text", "indented") and items:
            _check_inline(text, source, line)  # a wrapped item continues on the next line
            items[-1] = f"{items[-1]} {text.strip()}"
        else:
            break
        i += 1
    for item in items:
        _check_emphasis(item, source, start + 1)
    if kind == "bullet":
        blocks.append(BulletsBlock(items=tuple(items), line=start + 1))
    else:
        blocks.append(StepsBlock(items=tuple(items), start=first_number, line=start + 1))
    return i


def _parse_table(lines: list[str], i: int, source: str, blocks: list[Block]) -> int:
    start = i
    header = _split_row(lines[i], source, i + 1)
    if i + 1 >= len(lines) or not lines[i + 1].strip().startswith("|"):
        raise MarkdownError(source, i + 2, "a table's header row must be followed by a "
                            "'| --- | --- |' separator line")
    separator = _split_row(lines[i + 1], source, i + 2)
    if not all(_TABLE_SEPARATOR_CELL.match(cell) for cell in separator):
        raise MarkdownError(source, i + 2, f"expected a '| --- | --- |' separator line after "
                            f"the table header, got {lines[i + 1]!r}")
    if len(separator) != len(header):
        raise MarkdownError(source, i + 2, f"separator has {len(separator)} cells, header has "
                            f"{len(header)}")
    for cell in header:
        _check_inline(cell, source, i + 1)
        _check_emphasis(cell, source, i + 1)
    rows: list[tuple[str, ...]] = []
    i += 2
    while i < len(lines) and lines[i].strip().startswith("|"):
        row = _split_row(lines[i], source, i + 1)
        if len(row) != len(header):
            raise MarkdownError(source, i + 1, f"table row has {len(row)} cells, header has "
                                f"{len(header)}: {lines[i]!r}")
        for cell in row:
            _check_inline(cell, source, i + 1)
            _check_emphasis(cell, source, i + 1)
        rows.append(row)
        i += 1
    if not rows:
        raise MarkdownError(source, start + 1, "a table needs at least one row below its header")
    blocks.append(TableBlock(header=header, rows=tuple(rows), line=start + 1))
    return i


def _parse_callout(lines: list[str], i: int, source: str, blocks: list[Block]) -> int:
    start, paragraphs, current = i, [], []
    while i < len(lines) and lines[i].startswith(">"):
        text = lines[i][1:].strip()
        if text:
            _check_inline(text, source, i + 1)
            current.append(text)
        elif current:  # a bare '>' separates paragraphs inside one box
            paragraphs.append(" ".join(current))
            current = []
        i += 1
    if current:
        paragraphs.append(" ".join(current))
    for paragraph in paragraphs:
        _check_emphasis(paragraph, source, start + 1)
    if not paragraphs:
        raise MarkdownError(source, start + 1, "empty callout ('> ' with no text)")
    blocks.append(CalloutBlock(paragraphs=tuple(paragraphs), line=start + 1))
    return i


def inline_markup(text: str) -> str:
    """Escape &, <, > for reportlab's Paragraph markup and turn ``**bold**`` into <b>."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BOLD.sub(r"<b>\1</b>", escaped)


def plain_text(text: str) -> str:
    """The text without Markdown markers, for outline entries and width estimates."""
    return _BOLD.sub(r"\1", text)


# --------------------------------------------------------------------------------------------
# Document metadata
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DocMeta:
    """What the renderer needs to know about one document, taken from the manifest."""

    doc_id: str
    title: str
    kind: str                     # manual_section | policy
    section: str
    region: str
    edition: str
    effective_date: dt.date
    status: str                   # current | superseded
    page_label: str               # e.g. "Page {section}-{n}"
    source_sha256: str
    superseded_by_title: str | None = None
    supersedes_title: str | None = None


def load_manifest(path: Path = MANIFEST_PATH) -> list[dict[str, Any]]:
    """Return the manifest's document entries."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["documents"])


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def doc_meta(entry: dict[str, Any], by_id: dict[str, dict[str, Any]], source_text: str) -> DocMeta:
    """Build the DocMeta of one manifest entry (``by_id`` resolves supersession titles)."""
    def title_of(ref: str | None) -> str | None:
        return str(by_id[ref]["title"]) if ref and ref in by_id else ref

    return DocMeta(
        doc_id=str(entry["id"]), title=str(entry["title"]), kind=str(entry["kind"]),
        section=str(entry.get("section", "")), region=str(entry.get("region", "")),
        edition=str(entry.get("edition", "")), effective_date=_as_date(entry["effective_date"]),
        status=str(entry.get("status", "current")),
        page_label=str(entry.get("page_label", "Page {n}")),
        source_sha256=hashlib.sha256(source_text.encode("utf-8")).hexdigest(),
        superseded_by_title=title_of(entry.get("superseded_by")),
        supersedes_title=title_of(entry.get("supersedes")),
    )


def check_section_numbers(blocks: Sequence[Block], meta: DocMeta, source: str) -> None:
    """Manual sections' headings must belong to the section(s) the manifest names."""
    if meta.kind != "manual_section" or not meta.section:
        return
    allowed = {int(part) for part in re.findall(r"\d+", meta.section)}
    if "-" in meta.section:  # "1-2" is a range
        low, high = min(allowed), max(allowed)
        allowed = set(range(low, high + 1))
    for block in blocks:
        if isinstance(block, HeadingBlock) and block.number[0] not in allowed:
            raise MarkdownError(source, block.line, f"heading {_dotted(block.number)} is not in "
                                f"section {meta.section} (manifest)")


# --------------------------------------------------------------------------------------------
# Page labels
# --------------------------------------------------------------------------------------------

def roman(n: int) -> str:
    """Lowercase roman numeral of a positive integer."""
    out = []
    for value, numeral in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"),
                           (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"),
                           (4, "iv"), (1, "i")):
        count, n = divmod(n, value)
        out.append(numeral * count)
    return "".join(out)


def body_label(template: str, section: str, n: int, total: int | None) -> str:
    """The footer label of body page ``n``: ``"Page {section}-{n}"`` -> ``"Page 5-1"``."""
    return template.format(section=section, n=n, total="?" if total is None else total)


def short_label(template: str, section: str, n: int) -> str:
    """The printed page reference (TOC, PDF page label): ``"Page {section}-{n}"`` -> ``"5-3"``."""
    core = template.replace(" of {total}", "").replace("{total}", "")
    core = re.sub(r"^\s*Page\s+", "", core).strip()
    return core.format(section=section, n=n)


def _label_prefix(template: str, section: str) -> str | None:
    """PDF page-label prefix ("5-") when the short label ends with the page number."""
    core = re.sub(r"^\s*Page\s+", "", template.replace(" of {total}", "")).strip()
    if not core.endswith("{n}") or "{n}" in core[:-3]:
        return None
    return core[:-3].format(section=section)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

def make_styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles: Helvetica 10 pt body, larger bold headings."""
    body = ParagraphStyle("Body", fontName="Helvetica", fontSize=10, leading=13.5,
                          spaceAfter=6, alignment=TA_LEFT)
    return {
        "body": body,
        "h2": ParagraphStyle("H2", parent=body, fontName="Helvetica-Bold", fontSize=14,
                             leading=18, spaceBefore=14, spaceAfter=6,
                             textColor=colors.HexColor("#003b6f")),
        "h3": ParagraphStyle("H3", parent=body, fontName="Helvetica-Bold", fontSize=12,
                             leading=15, spaceBefore=10, spaceAfter=4),
        "h4": ParagraphStyle("H4", parent=body, fontName="Helvetica-Bold", fontSize=10.5,
                             leading=13.5, spaceBefore=8, spaceAfter=3),
        "cell": ParagraphStyle("Cell", parent=body, fontSize=9, leading=11.5, spaceAfter=0),
        "cell_head": ParagraphStyle("CellHead", parent=body, fontName="Helvetica-Bold",
                                    fontSize=9, leading=11.5, spaceAfter=0),
        "callout": ParagraphStyle("Callout", parent=body, spaceAfter=3),
        "bullet": ParagraphStyle("Bullet", parent=body, spaceAfter=3, leftIndent=18,
                                 bulletIndent=4, bulletFontName="Helvetica-Bold",
                                 bulletFontSize=16),
        "step": ParagraphStyle("Step", parent=body, spaceAfter=3, leftIndent=20,
                               bulletIndent=4, bulletFontName="Helvetica", bulletFontSize=10),
        "cover_title": ParagraphStyle("CoverTitle", parent=body, fontName="Helvetica-Bold",
                                      fontSize=22, leading=27, spaceAfter=10,
                                      textColor=colors.HexColor("#003b6f")),
        "cover_kind": ParagraphStyle("CoverKind", parent=body, fontName="Helvetica-Bold",
                                     fontSize=13, leading=17, spaceAfter=8),
        "cover_line": ParagraphStyle("CoverLine", parent=body, fontSize=11, leading=15,
                                     spaceAfter=2),
        "superseded": ParagraphStyle("Superseded", parent=body, fontName="Helvetica-Bold",
                                     fontSize=13, leading=17, spaceBefore=8, spaceAfter=4,
                                     textColor=colors.HexColor("#b00020")),
        "sample": ParagraphStyle("Sample", parent=body, fontName="Helvetica-Oblique",
                                 fontSize=9.5, leading=12.5, spaceAfter=0),
        "contents": ParagraphStyle("Contents", parent=body, fontName="Helvetica-Bold",
                                   fontSize=14, leading=18, spaceBefore=18, spaceAfter=8),
        "toc0": ParagraphStyle("TOC0", parent=body, fontSize=10, leading=14, leftIndent=0,
                               firstLineIndent=0, spaceAfter=0),
        "toc1": ParagraphStyle("TOC1", parent=body, fontSize=9.5, leading=13, leftIndent=16,
                               firstLineIndent=0, spaceAfter=0),
    }


class HeadingFlowable(Paragraph):
    """A numbered heading that places its bookmark and outline entry where it is drawn."""

    def __init__(self, block: HeadingBlock, style: ParagraphStyle) -> None:
        super().__init__(inline_markup(block.text), style)
        self.block = block
        self.keepWithNext = True

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:
        return []  # never split a heading: move it whole to the next page

    def draw(self) -> None:
        super().draw()
        self.canv.bookmarkHorizontal(self.block.key, 0, self.height + self.style.fontSize)
        self.canv.addOutlineEntry(plain_text(self.block.text), self.block.key,
                                  level=self.block.level - 2, closed=False)


class OutlineAnchor(Flowable):
    """An invisible flowable that bookmarks its position (used for the Contents page)."""

    def __init__(self, key: str, title: str) -> None:
        super().__init__()
        self.key, self.title = key, title
        self.width = self.height = 0

    def draw(self) -> None:
        self.canv.bookmarkHorizontal(self.key, 0, 20)
        self.canv.addOutlineEntry(self.title, self.key, level=0, closed=False)


class ContentsLine(Flowable):
    """One contents entry drawn as plain strings (text, dot leader, label) on one baseline.

    reportlab's own entries draw the leader from a paragraph callback, which puts it before the
    entry's text in the content stream; drawing in reading order keeps extracted text readable.
    """

    def __init__(self, text: str, label: str, key: str | None, style: ParagraphStyle) -> None:
        super().__init__()
        self.text, self.label, self.key, self.style = text, label, key, style
        self.lines: list[str] = []

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        style = self.style
        label_width = stringWidth(self.label, style.fontName, style.fontSize)
        room = availWidth - style.leftIndent - label_width - 30
        self.lines = simpleSplit(self.text, style.fontName, style.fontSize, room) or [""]
        self.width, self.height = availWidth, len(self.lines) * style.leading
        return self.width, self.height

    def draw(self) -> None:
        style, canv = self.style, self.canv
        font, size = style.fontName, style.fontSize
        text = canv.beginText(style.leftIndent, self.height - style.leading + 0.25 * style.leading)
        text.setFont(font, size, style.leading)
        for line in self.lines[:-1]:
            text.textLine(line)
        text.textOut(self.lines[-1])
        # the leader and the label continue the last line inside the same text object
        text_end = style.leftIndent + stringWidth(self.lines[-1], font, size)
        label_width = stringWidth(self.label, font, size)
        dot = " ."
        dots = int((self.width - label_width - text_end - 10) / stringWidth(dot, font, size))
        leader = dot * max(dots, 1)
        leader_x = self.width - label_width - 6 - stringWidth(leader, font, size)
        text.setXPos(leader_x - style.leftIndent)
        text.textOut(leader)
        text.setXPos(self.width - label_width - leader_x)
        text.textOut(self.label)
        canv.drawText(text)
        if self.key:
            canv.linkRect("", self.key, (0, 0, self.width, self.height), relative=1)


class ContentsTable(TableOfContents):
    """The table of contents: ## and ### headings with their printed body page labels."""

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        entries = self._lastEntries or [(0, "", 0, None)]  # first pass: nothing known yet
        rows = [[ContentsLine(text, self.formatter(page) if text else "", key,
                              self.getLevelStyle(level))]
                for level, text, page, key in entries]
        self._table = Table(rows, colWidths=(availWidth,), style=self.tableStyle)
        self.width, self.height = self._table.wrapOn(self.canv, availWidth, availHeight)
        return self.width, self.height


class CorpusDocTemplate(BaseDocTemplate):
    """Front matter on a 'front' template (i, ii, ...), the body on a 'body' template."""

    def __init__(self, path: Path, meta: DocMeta, body_total: int | None) -> None:
        super().__init__(
            str(path), pagesize=PAGE_SIZE, leftMargin=MARGIN, rightMargin=MARGIN,
            topMargin=MARGIN, bottomMargin=MARGIN, title=meta.title, author=AUTHOR,
            subject=f"source-sha256:{meta.source_sha256}", creator=CREATOR,
            keywords=f"doc_id:{meta.doc_id}", invariant=1, pageCompression=1,
        )
        self.meta = meta
        self.body_total = body_total
        self.body_first_page: int | None = None
        self.body_pages = 0
        self._label = ""
        self.addPageTemplates([
            PageTemplate(id="front", frames=[self._frame("front")], onPage=self._front_page,
                         onPageEnd=self._page_end),
            PageTemplate(id="body", frames=[self._frame("body")], onPage=self._body_page,
                         onPageEnd=self._page_end),
        ])

    def _frame(self, name: str) -> Frame:
        return Frame(MARGIN, MARGIN, FRAME_WIDTH, PAGE_SIZE[1] - 2 * MARGIN, id=name,
                     leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)

    def beforeDocument(self) -> None:
        # multiBuild makes several passes; a later pass knows the body page count of the last
        if self.body_pages:
            self.body_total = self.body_pages
        self.body_first_page = None
        self.body_pages = 0

    def _front_page(self, canv: Canvas, doc: BaseDocTemplate) -> None:
        if self.page == 1:
            canv.addPageLabel(0, "ROMAN_LOWER", 1)
            canv.showOutline()
        self._label = roman(self.page)
        draw_running_header(canv, self.meta)

    def _body_page(self, canv: Canvas, doc: BaseDocTemplate) -> None:
        if self.body_first_page is None:
            self.body_first_page = self.page
            prefix = _label_prefix(self.meta.page_label, self.meta.section)
            if prefix is not None:
                canv.addPageLabel(self.page - 1, "ARABIC", 1, prefix or None)
        n = self.page - self.body_first_page + 1
        self.body_pages = n
        self._label = body_label(self.meta.page_label, self.meta.section, n, self.body_total)
        draw_running_header(canv, self.meta)

    def _page_end(self, canv: Canvas, doc: BaseDocTemplate) -> None:
        # the footer is drawn last so that it ends the page's extracted text
        draw_running_footer(canv, self.meta, self._label)

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, HeadingFlowable) and flowable.block.level <= 3 \
                and self.body_first_page is not None:
            n = self.page - self.body_first_page + 1
            self.notify("TOCEntry", (flowable.block.level - 2, plain_text(flowable.block.text), n,
                                     flowable.block.key))


def _fit_font_size(text: str, font: str, size: float, width: float, minimum: float) -> float:
    while size > minimum and stringWidth(text, font, size) > width:
        size -= 0.25
    return size


def draw_running_header(canv: Canvas, meta: DocMeta) -> None:
    """Running header: plan name left, document title right, a thin rule below."""
    width, _ = PAGE_SIZE
    left = HEADER_LEFT.get(meta.kind, HEADER_LEFT["policy"])
    canv.saveState()
    canv.setFillColor(colors.HexColor("#333333"))
    canv.setFont("Helvetica", 8)
    canv.drawString(MARGIN, HEADER_Y, left)
    room = FRAME_WIDTH - stringWidth(left, "Helvetica", 8) - 18
    canv.setFont("Helvetica", _fit_font_size(meta.title, "Helvetica", 8, room, 5))
    canv.drawRightString(width - MARGIN, HEADER_Y, meta.title)
    canv.setStrokeColor(colors.HexColor("#8a8a8a"))
    canv.setLineWidth(0.5)
    canv.line(MARGIN, HEADER_Y - 5, width - MARGIN, HEADER_Y - 5)
    canv.restoreState()


def draw_running_footer(canv: Canvas, meta: DocMeta, label: str) -> None:
    """Running footer: a thin rule, the edition notice left, the page label right."""
    width, _ = PAGE_SIZE
    canv.saveState()
    canv.setFillColor(colors.HexColor("#333333"))
    canv.setStrokeColor(colors.HexColor("#8a8a8a"))
    canv.setLineWidth(0.5)
    canv.line(MARGIN, FOOTER_Y + 11, width - MARGIN, FOOTER_Y + 11)
    canv.setFont("Helvetica", 8)
    canv.drawString(MARGIN, FOOTER_Y, f"{meta.edition} edition -- sample for demonstration")
    canv.drawRightString(width - MARGIN, FOOTER_Y, label)
    canv.restoreState()


def _long_date(day: dt.date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def cover_flowables(meta: DocMeta, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The cover block of page i."""
    status = "Current edition" if meta.status == "current" else meta.status.capitalize()
    story: list[Flowable] = [
        Spacer(1, 0.3 * inch),
        Paragraph(inline_markup(meta.title), styles["cover_title"]),
        Paragraph(inline_markup(COVER_KIND.get(meta.kind, COVER_KIND["policy"])),
                  styles["cover_kind"]),
        Paragraph(f"Region: {inline_markup(meta.region)}", styles["cover_line"]),
        Paragraph(f"Edition: {inline_markup(meta.edition)}", styles["cover_line"]),
        Paragraph(f"Effective date: {_long_date(meta.effective_date)}", styles["cover_line"]),
        Paragraph(f"Status: {inline_markup(status)}", styles["cover_line"]),
    ]
    if meta.status == "superseded":
        replacement = meta.superseded_by_title or "a later edition"
        story.append(Paragraph(f"Superseded: replaced by {inline_markup(replacement)}",
                               styles["superseded"]))
        story.append(Paragraph("This edition is kept for reference only. Do not use it for "
                               "current requirements.", styles["cover_line"]))
    elif meta.supersedes_title:
        story.append(Paragraph(f"Replaces: {inline_markup(meta.supersedes_title)}",
                               styles["cover_line"]))
    story.append(Spacer(1, 10))
    story.append(_boxed([Paragraph(inline_markup(SAMPLE_EDITION_LINE), styles["sample"])],
                        background="#f4f4f4", border="#9a9a9a"))
    return story


def _boxed(content: list[Flowable], background: str, border: str) -> Table:
    box = Table([[content]], colWidths=[FRAME_WIDTH])
    box.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor(border)),
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(background)),
        ("LEFTPADDING", (0, 0), (-1, -1), 9), ("RIGHTPADDING", (0, 0), (-1, -1), 9),
        ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return box


def table_column_widths(block: TableBlock, total: float = FRAME_WIDTH) -> list[float]:
    """Fit column widths to ``total``: natural widths when they fit, else shrink wide columns."""
    pad = 12.0
    columns = list(zip(block.header, *block.rows, strict=True))
    natural, minimum = [], []
    for cells in columns:
        widths = [stringWidth(plain_text(c), "Helvetica-Bold" if i == 0 else "Helvetica", 9)
                  for i, c in enumerate(cells)]
        words = [stringWidth(w, "Helvetica-Bold", 9)
                 for c in cells for w in plain_text(c).split()] or [0.0]
        natural.append(max(widths) + pad)
        minimum.append(min(max(words) + pad, total / len(columns)))
    if sum(natural) <= total:
        scale = total / sum(natural)
        return [w * scale for w in natural]
    spare = total - sum(minimum)
    stretch = [n - m for n, m in zip(natural, minimum, strict=True)]
    if spare <= 0 or sum(stretch) <= 0:
        return [total * m / sum(minimum) for m in minimum]
    return [m + spare * s / sum(stretch) for m, s in zip(minimum, stretch, strict=True)]


def table_flowable(block: TableBlock, styles: dict[str, ParagraphStyle]) -> Table:
    """A grid table with a shaded header row that repeats when the table splits."""
    data = [[Paragraph(inline_markup(c), styles["cell_head"]) for c in block.header]]
    data += [[Paragraph(inline_markup(c), styles["cell"]) for c in row] for row in block.rows]
    table = Table(data, colWidths=table_column_widths(block), repeatRows=1, hAlign="LEFT",
                  spaceBefore=4, spaceAfter=10)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dfe6ee")),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#7a7a7a")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def block_flowables(block: Block, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """The flowables of one body block."""
    if isinstance(block, HeadingBlock):
        return [HeadingFlowable(block, styles[f"h{block.level}"])]
    if isinstance(block, ParagraphBlock):
        return [Paragraph(inline_markup(block.text), styles["body"])]
    if isinstance(block, BulletsBlock):
        # a Paragraph's bulletText shares the first line's text object, so extracted text
        # reads "\u00b7 item" on one line (a U+2022 bullet would extract as U+007F)
        return [Paragraph(inline_markup(t), styles["bullet"], bulletText="\u00b7")
                for t in block.items] + [Spacer(1, 4)]
    if isinstance(block, StepsBlock):
        return [Paragraph(inline_markup(t), styles["step"], bulletText=f"{block.start + i}.")
                for i, t in enumerate(block.items)] + [Spacer(1, 4)]
    if isinstance(block, TableBlock):
        return [table_flowable(block, styles)]
    if isinstance(block, CalloutBlock):
        paras: list[Flowable] = [Paragraph(inline_markup(p), styles["callout"])
                                 for p in block.paragraphs]
        return [KeepTogether([Spacer(1, 2), _boxed(paras, "#eef3f8", "#3d6a99"), Spacer(1, 8)])]
    raise TypeError(f"not a body block: {block!r}")


def build_story(blocks: Sequence[Block], meta: DocMeta,
                styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    """Cover, contents, then the body on a new page."""
    toc = ContentsTable(levelStyles=[styles["toc0"], styles["toc1"]], dotsMinLevel=0,
                        formatter=lambda n: short_label(meta.page_label, meta.section, n))
    story = cover_flowables(meta, styles)
    story += [OutlineAnchor("contents", "Contents"),
              Paragraph("Contents", styles["contents"]), toc,
              NextPageTemplate("body"), PageBreak()]
    for block in blocks:
        if not isinstance(block, TitleBlock):
            story += block_flowables(block, styles)
    return story


def render(blocks: Sequence[Block], meta: DocMeta, path: Path) -> int:
    """Render ``blocks`` to a PDF at ``path``; returns the number of body pages."""
    styles = make_styles()
    total: int | None = None
    for _ in range(4):  # settle the "{total}" page count; footers never change the layout
        doc = CorpusDocTemplate(path, meta, body_total=total)
        doc.multiBuild(build_story(blocks, meta, styles))
        if "{total}" not in meta.page_label or doc.body_total == doc.body_pages:
            return doc.body_pages
        total = doc.body_pages
    raise RuntimeError(f"{meta.doc_id}: body page count did not settle")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def build_document(entry: dict[str, Any], by_id: dict[str, dict[str, Any]], out_path: Path,
                   corpus_dir: Path = CORPUS_DIR) -> None:
    """Parse and render one manifest entry's source into ``out_path``."""
    source_path = corpus_dir / entry["source"]
    text = source_path.read_text(encoding="utf-8")
    source_name = str(source_path.relative_to(corpus_dir.parent)) \
        if source_path.is_relative_to(corpus_dir.parent) else str(source_path)
    blocks = parse_markdown(text, source_name)
    meta = doc_meta(entry, by_id, text)
    check_section_numbers(blocks, meta, source_name)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    render(blocks, meta, out_path)


def select_entries(entries: list[dict[str, Any]], ids: Sequence[str]) -> list[dict[str, Any]]:
    """The entries with a source, limited to ``ids`` when given (unknown ids raise KeyError)."""
    by_id = {str(e["id"]): e for e in entries}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise KeyError(", ".join(unknown))
    chosen = [by_id[i] for i in ids] if ids else entries
    return [e for e in chosen if e.get("source")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render the corpus's manual sections and policies (src/manual/*.md) to PDF "
                    "(manual/*.pdf) as listed in corpus/manifest.yaml.",
        epilog="Exit status: 0 all built (or, with --check, all in step); 1 a source is missing, "
               "fails to parse, or a PDF is out of step; 2 usage error (e.g. unknown id).")
    parser.add_argument("doc_ids", nargs="*", metavar="DOC_ID",
                        help="manifest ids to process (default: every document with a source)")
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary directory and compare bytes with the "
                             "committed PDFs instead of writing them")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH,
                        help="manifest to read (default: %(default)s)")
    args = parser.parse_args(argv)

    corpus_dir = args.manifest.resolve().parent
    entries = load_manifest(args.manifest)
    by_id = {str(e["id"]): e for e in entries}
    try:
        selected = select_entries(entries, args.doc_ids)
    except KeyError as exc:
        parser.error(f"unknown or source-less document id(s): {exc.args[0]}")
    if args.doc_ids and len(selected) != len(args.doc_ids):
        parser.error("these ids have no Markdown source: "
                     + ", ".join(i for i in args.doc_ids if not by_id[i].get("source")))

    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="corpus-build-") as tmp:
        for entry in selected:
            doc_id, target = str(entry["id"]), corpus_dir / entry["file"]
            source = corpus_dir / entry["source"]
            if not source.is_file():
                failures.append(f"{doc_id}: source missing: {entry['source']}")
                continue
            out = Path(tmp) / f"{doc_id}.pdf" if args.check else target
            try:
                build_document(entry, by_id, out, corpus_dir)
            except MarkdownError as exc:
                failures.append(f"{doc_id}: cannot parse: {exc}")
                continue
            except Exception as exc:  # report by id and go on with the other documents
                failures.append(f"{doc_id}: cannot render {entry['source']}: "
                                f"{type(exc).__name__}: {exc}")
                continue
            if not args.check:
                print(f"built {doc_id} -> {entry['file']}")
            elif not target.is_file():
                failures.append(f"{doc_id}: PDF missing: {entry['file']} "
                                "(run corpus/build.py)")
            elif target.read_bytes() != out.read_bytes():
                failures.append(f"{doc_id}: out of step: {entry['file']} differs from a "
                                f"fresh build of {entry['source']} (run corpus/build.py)")
            else:
                print(f"ok {doc_id}")
    for failure in failures:
        print(failure, file=sys.stderr)
    if failures:
        print(f"{len(failures)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
