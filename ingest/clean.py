"""Cleaning extracted page text: running headers and footers, page labels, contents leaders,
line-break hyphenation and URLs split across lines. Generic rules, measured on real manuals."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, replace

from assistant.sentences import LIST_START
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
_URL_TAIL = re.compile(r"(?:https?://|www\.)\S*$")
_SHORT_LEADER = re.compile(r"(?:\.\s?){2,}\s*[\divxlc]+\s*$", re.IGNORECASE)
_NUMBERED_ENTRY = re.compile(r"^(?:\d|(?:section|chapter|part|appendix)\s+\w{1,4}\b)", re.IGNORECASE)
_GLUED_COUNTRY_CODE = re.compile(r"(?<![\w-])(1)\((?=\d{3}\))")
# A North American number with stray spaces inside its digit groups or around its separators; the country
# code and the space after an area code in brackets are kept as printed.
_SPLIT_PHONE = re.compile(r"(?<![\w-])((?:1[-.\s])?(?:\(\d\s?\d\s?\d\)\s?)?)"
                          r"((?:\d\s?\d\s?\d\s?[-.]\s?)?\d\s?\d\s?\d\s?[-.]\s?\d\s?\d\s?\d\s?\d)(?![\w-])")
SENTENCE_END = (".", "!", "?", ":", ";")


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


def _end_numbers(running_lines: list[str]) -> dict[tuple[str, int], str]:
    """Page-number-like tokens at either end of each running line, keyed by the line's shape and the end."""
    found = {}
    for line in running_lines:
        tokens = line.split()
        for end in (0, -1):
            bare = tokens[end].strip(".,:;()[]|") if tokens else ""
            if _NUMBER_TOKEN.match(bare) or _ROMAN.match(bare):
                found[(running_key(line), end)] = bare
    return found


def page_number_slots(running: list[list[str]]) -> list[tuple[str, int]]:
    """Where a running line without the word "page" prints the page number ("2025 edition  12"): the line
    ends whose number changes from page to page, most varied first. A year or edition printed on the same
    line stays the same, so it is never taken for the page number."""
    values: dict[tuple[str, int], list[str]] = {}
    for lines in running:
        for slot, value in _end_numbers(lines).items():
            values.setdefault(slot, []).append(value)
    varied = [slot for slot, seen in values.items() if len(seen) >= 2 and len(set(seen)) > 0.5 * len(seen)]
    return sorted(varied, key=lambda slot: -len(set(values[slot])))


def strip_running_lines(pages: list[str]) -> tuple[list[list[str]], dict[int, str]]:
    """Each page's lines without its running header/footer, and each page's printed label."""
    keys = find_running_keys(pages)
    cleaned: list[list[str]] = []
    running: list[list[str]] = []
    for page in pages:
        lines = page.splitlines()
        edge = set(_edge_indexes(lines))
        running.append([lines[i] for i in sorted(edge) if running_key(lines[i]) in keys])
        cleaned.append([ln for i, ln in enumerate(lines) if not (i in edge and running_key(ln) in keys)])
    slots = page_number_slots(running)
    labels: dict[int, str] = {}
    for number, lines in enumerate(running, start=1):
        ends = _end_numbers(lines)
        label = printed_label(lines) or next((ends[slot] for slot in slots if slot in ends), None)
        if label:
            labels[number] = label
    return cleaned, labels


def is_contents_line(line: str) -> bool:
    """A table-of-contents entry: a title, a run of leader dots (or underscores) and a page number."""
    return bool(_DOT_LEADER.search(line))


@dataclass(frozen=True)
class ContentsEntry:
    """An unnumbered entry of a table of contents: its title and how deep the contents indents it."""

    title: str
    level: int


def contents_entries(lines: list[str]) -> list[ContentsEntry]:
    """The unnumbered entries of contents lines, in order, with their depth from the indentation (indents
    within one space of each other are one level; without indentation every entry is level 1). Numbered
    entries are left out: the numbering gives their place."""
    found: list[tuple[str, int]] = []
    for line in lines:
        leader = _DOT_LEADER.search(line) or _SHORT_LEADER.search(line)
        title = " ".join(line[:leader.start()].split()) if leader else ""
        if title and not _NUMBERED_ENTRY.match(title):
            found.append((title, len(line) - len(line.lstrip())))
    depths: dict[int, int] = {}
    start = -2
    for indent in sorted({indent for _, indent in found}):
        if indent - start > 1:
            start = indent
        depths[indent] = depths.get(start, len(set(depths.values())) + 1)
    return [ContentsEntry(title, min(depths[indent], 3)) for title, indent in found]


def _match_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold()).split())


def _names_entry(line: str, entry: ContentsEntry) -> bool:
    """Whether a body line is the heading a contents entry names: the same words, or those words followed by a
    short qualifier set off by a bracket or dash ("Care Plans (CP)", "Early Care - Adults")."""
    if _match_key(line) == _match_key(entry.title):
        return True
    m = re.match(r"\s*" + r"\W*".join(re.escape(w) for w in entry.title.split()) + r"\s*[(\-–—]", line, re.IGNORECASE)
    return bool(m) and len(line.split()) <= len(entry.title.split()) + 3 and not line.rstrip().endswith(".")


def mark_contents_headings(lines: list[Line], entries: list[ContentsEntry]) -> list[Line]:
    """Body lines that an unnumbered contents entry names become headings at the entry's depth. Entries are
    matched in order, by title, not by page number: printed contents are often a page off (a third of the
    unnumbered entries of one real manual in the test set are)."""
    out = list(lines)
    cursor = 0
    for entry in entries:
        for i in range(cursor, len(out)):
            if out[i].heading_level is None and _names_entry(out[i].text, entry):
                out[i] = replace(out[i], heading_level=entry.level)
                cursor = i + 1
                break
    return out


def pdf_lines(pages: list[list[str]]) -> list[Line]:
    """Cleaned page lines as :class:`Line` records. Contents entries are dropped, and so are whole
    contents pages (their wrapped entries would otherwise pass for headings); the body lines that unnumbered
    entries name are marked as headings (``heading_level``), the contents being the document's own outline.
    Phone numbers split by a stray space are rejoined."""
    out = []
    contents: list[str] = []
    for number, lines in enumerate(pages, start=1):
        filled = [ln for ln in lines if ln.strip()]
        entries = [ln for ln in filled if is_contents_line(ln)]
        if len(entries) >= 5 or (filled and len(entries) > 0.4 * len(filled)):
            # on a contents page a leader of two dots is enough ("Introduction .. 1")
            contents += [ln for ln in filled if is_contents_line(ln) or _SHORT_LEADER.search(ln)]
            continue
        contents += entries
        for text in lines:
            if not is_contents_line(text):
                out.append(Line(text=repair_phone_numbers(text.rstrip("\n")) if text.strip() else "", page=number))
    return mark_contents_headings(out, contents_entries(contents))


def repair_phone_numbers(text: str) -> str:
    """Phone numbers as printed, without the stray spaces text extraction puts inside them ("555- 0100",
    "(517) 34 6-8459") and with a space after a country code glued to the area code ("1(877) ...")."""
    text = _GLUED_COUNTRY_CODE.sub(r"\1 (", text)
    return _SPLIT_PHONE.sub(lambda m: m.group(1) + re.sub(r"(?<=[\d\-.])\s+(?=[\d\-.])", "", m.group(2)), text)


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
    if re.search(r"\d-\s*$", prev) and re.match(r"\d", nxt):
        return repair_phone_numbers(prev.rstrip() + nxt)  # a number broken after its hyphen ("1-888-555-" / "0100")
    if re.search(r"[\d)][-.]?\s*$", prev) and re.match(r"[-.]?\d", nxt):
        return repair_phone_numbers(prev.rstrip() + " " + nxt)  # or elsewhere ("1-888-555" / "-0100")
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
        starts = line.block_start or previous_short_end or bool(LIST_START.match(stripped))
        if starts and text:
            segments.append(Segment(" ".join(text.split()), page))
            text = ""
        if not text:
            text, page = line.text, line.page
        else:
            text = join_wrapped(text, line.text)
        previous_short_end = stripped.endswith(SENTENCE_END) and len(stripped) < 0.8 * typical
    if text.strip():
        segments.append(Segment(" ".join(text.split()), page))
    return segments
