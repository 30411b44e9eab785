"""Finding a document's own headings and numbering, and splitting it into sections."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.clean import unwrap
from ingest.model import Line, Section

_NAMED = re.compile(
    r"^(?:(?:Section|SECTION|Sections|SECTIONS|Chapter|CHAPTER|Part|PART)\s+(\d{1,2}|[IVX]{1,5})"
    r"|(?:Appendix|APPENDIX)\s+([A-Z]|\d{1,2}))"
    r"(?:\s+and\s+\d{1,2})?\s*[:.\-–—]?\s+(\S.{1,110})$"
)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){0,4})\.?\s+([A-Z(“\"'][^\n]{1,110})$")
_MAX_TITLE_WORDS = 16


@dataclass(frozen=True)
class Heading:
    number: str
    title: str
    level: int


def _numbers(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdigit())


def is_successor(previous: tuple[int, ...] | None, candidate: tuple[int, ...]) -> bool:
    """Whether ``candidate`` can follow ``previous`` in an outline (1.2 -> 1.2.1, 1.3, 2 ...)."""
    if not candidate:
        return False
    if previous is None:
        return all(n <= 50 for n in candidate)
    if candidate == previous + (1,):
        return True
    for depth in range(1, len(previous) + 1):
        step = candidate[depth - 1] - previous[depth - 1] if len(candidate) >= depth else 0
        if candidate[:depth - 1] != previous[:depth - 1] or not 0 < step <= 2:
            continue
        # 1.11 -> 2, or 1.11 -> 2.1 when the new part's own heading is unnumbered ("Section 2")
        if all(n == 1 for n in candidate[depth:]):
            return True
    return False


def _looks_like_title(title: str) -> bool:
    words = title.split()
    if not words or len(words) > _MAX_TITLE_WORDS:
        return False
    if title.rstrip().endswith((",", ";", ":", ".")):  # list items and clauses end like sentences
        return False
    letters = [c for c in title if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 1


def numbered_heading(text: str) -> Heading | None:
    """A heading written with its number ("5.3.1 Record Authorization Number", "Section 5: ...")."""
    stripped = " ".join(text.split())
    named = _NAMED.match(stripped)
    if named and _looks_like_title(named.group(3)):
        return Heading(named.group(1) or named.group(2), named.group(3).strip(), 1)
    m = _NUMBERED.match(stripped)
    if m and _looks_like_title(m.group(2)):
        number = m.group(1)
        return Heading(number, m.group(2).strip(), number.count(".") + 1)
    return None


def explicit_heading(line: Line) -> Heading:
    """A heading the format marks (HTML h1-h4, Markdown #), with its number when it starts with one."""
    found = numbered_heading(line.text)
    if found:
        return Heading(found.number, found.title, line.heading_level or found.level)
    return Heading("", line.text.strip(), line.heading_level or 1)


def find_headings(lines: list[Line]) -> dict[int, Heading]:
    """Which lines are headings.

    A numbered candidate must continue the outline seen so far, or renumber within the same parent
    (real manuals restart 3.3.18 -> 3.3.1). A bare top-level number ("4. Services") counts only when
    the next numbered candidate is its own child ("4.1"), which rules out numbered lists and form
    fields."""
    candidates = {i: numbered_heading(ln.text) for i, ln in enumerate(lines) if ln.heading_level is None}
    numeric = [(i, _numbers(h.number)) for i, h in sorted(candidates.items()) if h and _numbers(h.number)]
    next_numeric = {i: numeric[k + 1][1] for k, (i, _) in enumerate(numeric[:-1])}
    found: dict[int, Heading] = {}
    previous: tuple[int, ...] | None = None
    for i, line in enumerate(lines):
        if line.heading_level is not None:
            heading = explicit_heading(line)
            found[i] = heading
            if heading.number and _numbers(heading.number):
                previous = _numbers(heading.number)
            continue
        cand = candidates.get(i)
        if cand is None or _continues_as_sentence(lines, i):
            continue
        nums = _numbers(cand.number)
        if not nums:  # "Appendix A": not part of the numeric outline
            found[i] = cand
            continue
        named = bool(_NAMED.match(" ".join(line.text.split())))
        if len(nums) == 1 and not named and not _bare_part_heading(i, nums, previous, cand, next_numeric, numeric):
            continue
        # a restart within one parent goes back to 1 (3.3.18 -> 3.3.1); a clause of a contract printed in an
        # appendix ("9.2 PROVIDER agrees to ...", after 9.15.1) goes back to wherever it happens to be numbered
        renumbered = (previous is not None and len(nums) >= 2 and nums[:-1] == previous[:len(nums) - 1]
                      and not (len(previous) >= len(nums) and 1 < nums[-1] < previous[len(nums) - 1]))
        if named or is_successor(previous, nums) or renumbered:
            found[i] = cand
            previous = nums
    return found


def _bare_part_heading(i: int, nums: tuple[int, ...], previous: tuple[int, ...] | None, cand: Heading,
                       next_numeric: dict[int, tuple[int, ...]], numeric: list[tuple[int, tuple[int, ...]]]) -> bool:
    """Whether a bare "4. Consequences" is a part heading rather than an item of a numbered list.

    It is when its own child ("4.1") follows, or when it continues the outline's top level, reads like a
    short title, no other bare line with that number has children, and the next numbered line is not the next
    list item right below it."""
    following = next_numeric.get(i)
    if following and following[0] == nums[0] and len(following) >= 2:
        return True
    expected = (previous[0] + 1) if previous else 1
    if nums[0] != expected or len(cand.title.split()) > 6:
        return False
    twins = [line for line, other in numeric if other == nums and line != i]
    if any(len(next_numeric.get(t, ())) >= 2 and next_numeric[t][0] == nums[0] for t in twins):
        return False  # another "3." has its "3.1" below it: that one is the heading, this a form box

    if not all(w[0].isupper() for w in cand.title.split() if len(w) > 3 and w[0].isalpha()):
        return False
    position = {line: k for k, (line, _) in enumerate(numeric)}
    k = position.get(i)
    if k is None or k + 1 >= len(numeric):
        return True
    next_line, next_nums = numeric[k + 1]
    return not (next_nums == (nums[0] + 1,) and next_line - i <= 3)  # "1. Call" then "2. Fax": a list


def _continues_as_sentence(lines: list[Line], i: int) -> bool:
    """A numbered clause wrapped onto the next line ("12.1 Provider agrees to ... or payment / in
    full") is body text, not a heading. A short line is a whole heading even if a lower-case table
    cell follows it."""
    if len(lines[i].text.strip()) < 50:
        return False
    for line in lines[i + 1:i + 3]:
        text = line.text.strip()
        if text:
            return text[0].islower()
    return False


def split_sections(lines: list[Line]) -> list[Section]:
    """The document as sections: each heading with the paragraphs under it."""
    headings = find_headings(lines)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, label)
    current: Heading | None = None
    current_line: Line | None = None
    body: list[Line] = []

    def close() -> None:
        segments = unwrap(body)
        if current is None and not segments:
            return
        heading = current or Heading("", "", 0)
        label = f"{heading.number} {heading.title}".strip()
        page = current_line.page if current_line else (segments[0].page if segments else None)
        path = tuple(lbl for _, lbl in stack)
        sections.append(Section(heading.number, heading.title, path if label else (), segments, page,
                                current_line.anchor if current_line else None))

    for i, line in enumerate(lines):
        heading = headings.get(i)
        if heading is None:
            body.append(line)
            continue
        close()
        level = heading.level
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, f"{heading.number} {heading.title}".strip()))
        current, current_line, body = heading, line, []
    close()
    return sections
