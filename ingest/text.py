"""Markdown and plain-text loading: Markdown headings kept as structure."""

from __future__ import annotations

import re

from ingest.model import Line

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)


def load_markdown(text: str) -> tuple[list[Line], str | None]:
    """Lines of a Markdown file: headings with their level, list items and table rows as blocks."""
    text = _FRONT_MATTER.sub("", text)
    lines: list[Line] = []
    previous_blank = True
    in_fence = False
    for raw in text.splitlines():
        if raw.strip().startswith("```"):
            in_fence = not in_fence
            continue
        stripped = raw.strip()
        if not stripped:
            previous_blank = True
            continue
        heading = None if in_fence else _MD_HEADING.match(stripped)
        if heading:
            lines.append(Line(text=heading.group(2).replace("**", ""), heading_level=min(len(heading.group(1)), 4),
                              block_start=True))
        elif re.fullmatch(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?", stripped):
            continue  # table separator row
        else:
            is_row = stripped.startswith("|")
            clean = stripped.strip("|").strip() if is_row else stripped
            clean = re.sub(r"\s*\|\s*", " | ", clean) if is_row else clean
            clean = clean.replace("**", "").lstrip("> ").strip()
            lines.append(Line(text=clean, block_start=previous_blank or is_row or bool(_LIST_ITEM.match(raw))))
        previous_blank = False
    title = next((ln.text for ln in lines if ln.heading_level == 1), None)
    return lines, title


def load_plain_text(text: str) -> list[Line]:
    """Lines of a plain-text file; blank lines separate paragraphs."""
    lines: list[Line] = []
    previous_blank = True
    for raw in text.splitlines():
        if not raw.strip():
            previous_blank = True
            continue
        lines.append(Line(text=raw.strip(), block_start=previous_blank or bool(_LIST_ITEM.match(raw))))
        previous_blank = False
    return lines
