"""Splitting sections into chunks that fit the embedding model's window.

Chunks break at sentence boundaries, carry a small overlap inside a section, never cross into a
new section unless the chunk so far is tiny (tiny sections merge with their neighbours), and are
measured with the model's own tokenizer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ingest.model import Section

TokenCounter = Callable[[Sequence[str]], list[int]]

_ABBREVIATIONS = {"e.g", "i.e", "etc", "dr", "mr", "mrs", "ms", "inc", "no", "st", "vs", "u.s", "sec", "approx",
                  "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "p.o",
                  "fig", "ref", "dept", "corp", "co", "ltd", "jr", "sr", "ph.d", "m.d", "a.m", "p.m", "ext"}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]”’]?\s+(?=[A-Z0-9\"'(“‘•])")
_SPECIAL_TOKENS = 2  # [CLS] and [SEP]
_SAFETY = 4  # joining pieces can tokenise a little differently from the sum of their counts


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph; abbreviations and initials do not end a sentence."""
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        before = text[start:m.start()].rstrip("\"')]”’")
        last_word = before.rsplit(None, 1)[-1].rstrip(".").lower() if before.split() else ""
        if last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue
        sentences.append(text[start:m.start()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


@dataclass(frozen=True)
class Unit:
    """A sentence (or a heading line) on its way into a chunk."""

    text: str
    tokens: int
    section: int  # index into the document's sections
    page: int | None
    new_paragraph: bool


@dataclass(frozen=True)
class DraftChunk:
    """A chunk's text and where it comes from, before ids and metadata are attached."""

    text: str
    section_indexes: tuple[int, ...]
    page: int | None
    page_end: int | None


def section_units(sections: Sequence[Section], count_tokens: TokenCounter) -> list[Unit]:
    """Every section as a stream of units: its heading line, then its sentences."""
    raw: list[tuple[str, int, int | None, bool]] = []
    for index, section in enumerate(sections):
        if section.label:
            raw.append((section.label, index, section.page, True))
        for segment in section.segments:
            for n, sentence in enumerate(split_sentences(segment.text)):
                raw.append((sentence, index, segment.page, n == 0))
    counts = count_tokens([r[0] for r in raw])
    return [Unit(text, max(0, c - _SPECIAL_TOKENS), sec, page, para)
            for (text, sec, page, para), c in zip(raw, counts, strict=True)]


def split_long_unit(unit: Unit, budget: int, count_tokens: TokenCounter) -> list[Unit]:
    """Cut a unit that alone exceeds the budget (a long table row, a run-on list) by words."""
    words = unit.text.split()
    if len(words) <= 1:
        return [unit]  # a single enormous token string; the final check will flag it
    half = len(words) // 2
    parts = [" ".join(words[:half]), " ".join(words[half:])]
    counts = [c - _SPECIAL_TOKENS for c in count_tokens(parts)]
    out: list[Unit] = []
    for n, (text, tokens) in enumerate(zip(parts, counts, strict=True)):
        piece = Unit(text, tokens, unit.section, unit.page, unit.new_paragraph and n == 0)
        out.extend(split_long_unit(piece, budget, count_tokens) if tokens > budget else [piece])
    return out


def pack_units(units: Sequence[Unit], *, budget: int, overlap: int, min_tokens: int) -> list[list[Unit]]:
    """Group units into chunks of at most ``budget`` tokens.

    A new section starts a new chunk unless the current one is still under ``min_tokens``; a chunk
    that overflows inside a section starts the next one with up to ``overlap`` tokens of its tail."""
    chunks: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for unit in units:
        new_section = bool(current) and unit.section != current[-1].section
        if current and (size + unit.tokens > budget or (new_section and size >= min_tokens)):
            chunks.append(current)
            tail: list[Unit] = []
            if not new_section and overlap:
                tail_size = 0
                for prev in reversed(current):
                    if tail_size + prev.tokens > overlap or len(tail) + 1 >= len(current):
                        break
                    tail.insert(0, prev)
                    tail_size += prev.tokens
            current, size = list(tail), sum(u.tokens for u in tail)
            if size + unit.tokens > budget:
                current, size = [], 0
        current.append(unit)
        size += unit.tokens
    if current:
        if chunks and size < min_tokens and size + sum(u.tokens for u in chunks[-1]) <= budget:
            chunks[-1].extend(current)  # a tiny last piece joins its neighbour
        else:
            chunks.append(current)
    return chunks


def render_chunk(units: Sequence[Unit]) -> str:
    """A chunk's text: sentences joined, paragraphs and headings on their own lines."""
    parts: list[str] = []
    for n, unit in enumerate(units):
        if n and unit.new_paragraph:
            parts.append("\n")
        elif n:
            parts.append(" ")
        parts.append(unit.text)
    return "".join(parts)


def chunk_sections(sections: Sequence[Section], count_tokens: TokenCounter, *, budget: int, overlap: int,
                   min_tokens: int) -> list[DraftChunk]:
    """The sections of one document as draft chunks of at most ``budget`` tokens of text."""
    units: list[Unit] = []
    for unit in section_units(sections, count_tokens):
        units.extend(split_long_unit(unit, budget, count_tokens) if unit.tokens > budget else [unit])
    drafts = []
    for group in pack_units(units, budget=budget, overlap=overlap, min_tokens=min_tokens):
        pages = [u.page for u in group if u.page is not None]
        drafts.append(DraftChunk(
            text=render_chunk(group),
            section_indexes=tuple(dict.fromkeys(u.section for u in group)),
            page=pages[0] if pages else None,
            page_end=pages[-1] if pages else None,
        ))
    return drafts


def body_budget(max_tokens: int, prefix_tokens: int) -> int:
    """Tokens left for a chunk's text once its heading prefix and special tokens are counted."""
    return max(16, max_tokens - prefix_tokens - _SPECIAL_TOKENS - _SAFETY)
