"""Cleaning extracted page text: running headers and footers, page labels, contents leaders,
line-break hyphenation and URLs split across lines. Generic rules, measured on real manuals."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter

from ingest.model import Line, Segment

EDGE_LINES = 4  # running headers/footers live in the first and last few lines of a page
RUNNING_SHARE = 0.5  # a line shape on at least this share of pages is running text

_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$", re.IGNORECASE)
_NUMBER_TOKEN = re.compile(r"^[\d]+(?:[-–.]\d+)*$")
_PAGE_LABEL = re.compile(r"\bpage\s+([0-9ivxlc]+(?:[-–][0-9]+)?)\b", re.IGNORECASE)
# Leaders of a contents entry: dots ("Claims ..... 5-3"), underscores ("Capacity_____ Page14") or a wide gap
# before "Page N" ("Introduction            Page 4")
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}\s*[\divxlc]+(?:[-–]\d+)?\s*$|(?:\.\s?){8,}"
                         r"|_{4,}\s*(?:page\s*)?\d+\s*$|\s{6,}page\s*\d+\s*$", re.IGNORECASE)
_LIST_START = re.compile(r"^(?:[•●▪◦■□➢✓*-]\s|o\s|\d{1,3}[.)]\s|[a-z][.)]\s|\([a-z0-9ivx]{1,4}\)\s)")
_URL_TAIL = re.compile(r"(?:https?://|www\.)\S*$")
_SENTENCE_END = (".", "!", "?", ":", ";")


def running_key(line: str) -> str:
    """A line's shape with page numbers (arabic or roman) and punctuation removed."""
    words = []
    for token in line.lower().split():
        bare = token.strip(".,:;()[]")
        if _NUMBER_TOKEN.match(bare) or _ROMAN.match(bare) or bare == "of":
            continue
        words.append(re.sub(r"[^a-z]+", " ", bare))
    return " ".join(" ".join(words).split())


def _edge_indexes(lines: list[str]) -> list[int]:
    filled = [i for i, ln in enumerate(lines) if ln.strip()]
    edge = set(filled[:EDGE_LINES]) | set(filled[-EDGE_LINES:])
    return sorted(edge)


def find_running_keys(pages: list[str]) -> set[str]:
    """Shapes of lines that repeat at the top or bottom of most pages."""
    counts: Counter[str] = Counter()
    for page in pages:
        lines = page.splitlines()
        counts.update({running_key(lines[i]) for i in _edge_indexes(lines)})
    needed = max(2, math.ceil(RUNNING_SHARE * len(pages)))
    return {key for key, n in counts.items() if n >= needed} if len(pages) >= 2 else set()


def printed_label(running_lines: list[str]) -> str | None:
    """The page label printed in a page's running lines ("5", "iii", "5-3"), if any."""
    for line in running_lines:
        m = _PAGE_LABEL.search(line)
        if m:
            return m.group(1)
    for line in running_lines:
        bare = line.strip()
        if _NUMBER_TOKEN.match(bare) or _ROMAN.match(bare):
            return bare
    return None


def strip_running_lines(pages: list[str]) -> tuple[list[list[str]], dict[int, str]]:
    """Each page's lines without its running header/footer, and each page's printed label."""
    keys = find_running_keys(pages)
    cleaned: list[list[str]] = []
    labels: dict[int, str] = {}
    for number, page in enumerate(pages, start=1):
        lines = page.splitlines()
        edge = set(_edge_indexes(lines))
        running = [lines[i] for i in sorted(edge) if running_key(lines[i]) in keys]
        label = printed_label(running)
        if label:
            labels[number] = label
        cleaned.append([ln for i, ln in enumerate(lines) if not (i in edge and running_key(ln) in keys)])
    return cleaned, labels


def is_contents_line(line: str) -> bool:
    """A table-of-contents entry: a title, a run of leader dots (or underscores) and a page number."""
    return bool(_DOT_LEADER.search(line))


def pdf_lines(pages: list[list[str]]) -> list[Line]:
    """Cleaned page lines as :class:`Line` records. Contents entries are dropped, and so are whole
    contents pages (their wrapped entries would otherwise pass for headings)."""
    out = []
    for number, lines in enumerate(pages, start=1):
        filled = [ln for ln in lines if ln.strip()]
        contents = sum(is_contents_line(ln) for ln in filled)
        if contents >= 5 or (filled and contents > 0.4 * len(filled)):
            continue
        for text in lines:
            if not is_contents_line(text):
                out.append(Line(text=text.rstrip("\n") if text.strip() else "", page=number))
    return out


def join_wrapped(previous: str, following: str) -> str:
    """Join two wrapped lines: undo hyphenation, re-glue URLs split at the line end."""
    prev = previous.rstrip("\n")
    nxt = following.strip()
    if not prev.strip():
        return nxt
    glued = prev[-1:] not in (" ", "\t")
    if glued and _URL_TAIL.search(prev) and nxt and not nxt[0].isspace():
        return prev + nxt  # a URL broken mid-token
    if glued and re.search(r"[a-z]-$", prev) and re.match(r"[a-z]", nxt):
        return prev[:-1] + nxt  # a word hyphenated across the line break
    return prev.rstrip() + " " + nxt


def unwrap(lines: list[Line]) -> list[Segment]:
    """Paragraphs, list items and rows from wrapped lines.

    A new segment starts at a blank line, an explicit block, a list marker, or after a line that
    ends a sentence well short of the usual line width (the end of a paragraph)."""
    widths = [len(ln.text.strip()) for ln in lines if ln.text.strip()]
    typical = statistics.median(widths) if widths else 0
    segments: list[Segment] = []
    text, page = "", None
    previous_short_end = True
    for line in lines:
        stripped = line.text.strip()
        if not stripped:
            previous_short_end = True
            continue
        starts = line.block_start or previous_short_end or bool(_LIST_START.match(stripped))
        if starts and text:
            segments.append(Segment(" ".join(text.split()), page))
            text = ""
        if not text:
            text, page = line.text, line.page
        else:
            text = join_wrapped(text, line.text)
        previous_short_end = stripped.endswith(_SENTENCE_END) and len(stripped) < 0.8 * typical
    if text.strip():
        segments.append(Segment(" ".join(text.split()), page))
    return segments
