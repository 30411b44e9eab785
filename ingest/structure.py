"""Finding a document's own headings and numbering, and splitting it into sections.

Numbered headings ("5.3.1 ...", "Section 5: ...") are the outline wherever a document has them. A document
without a numbered outline and without format-marked headings (a PDF whose headings differ only by font) gets
its headings from their shape: a short Title Case or ALL CAPS line between paragraphs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.clean import LIST_START, SENTENCE_END, unwrap
from ingest.model import Line, Section

_NAMED = re.compile(
    r"^(?:(?:Section|SECTION|Sections|SECTIONS|Chapter|CHAPTER|Part|PART)\s+(\d{1,2}|[IVX]{1,5})"
    r"|(?:Appendix|APPENDIX)\s+([A-Z]|\d{1,2}))"
    r"(?:\s+and\s+\d{1,2})?\s*[:.\-–—]?\s+(\S.{1,110})$"
)
# The title starts with a capital, a bracket or quote, or a code such as "340B" (never a bare number: "10 percent")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){0,4})\.?\s+((?:[A-Z(“\"']|\d+[A-Z])[^\n]{1,110})$")
_MAX_TITLE_WORDS = 16
# A heading cut at the line end leaves one of these last ("7 Member Rights and" / "Responsibilities").
_CONNECTIVES = frozenset({"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or", "the",
                          "to", "with", "&", "-", "–", "—", "/"})
_SMALL_WORDS = _CONNECTIVES | {"per", "via", "vs", "nor", "but", "not"}
# Fewer numbered headings than this and the document is taken as unnumbered (a stray "1. Purpose" is not
# an outline); three is the smallest outline that has a parent, a child and a sibling.
MIN_NUMBERED_HEADINGS = 3
_MAX_SHAPE_WORDS = 12  # the longest unnumbered heading of the real manuals in the test set has 7
_CONTACT_OR_LINK = re.compile(r"@|://|\bwww\.|\d{3}\D{0,2}\d{4}")
_COLUMN_GAP = re.compile(r"\S {3,}\S|\t")
_SENTENCE_INSIDE = re.compile(r"[a-z)][.?!]\s")


@dataclass(frozen=True)
class Heading:
    number: str
    title: str
    level: int
    lines: int = 1  # a title wrapped onto the next line spans two


def _numbers(number: str) -> tuple[int, ...]:
    return tuple(int(p) for p in number.split(".") if p.isdigit())


def is_successor(previous: tuple[int, ...] | None, candidate: tuple[int, ...]) -> bool:
    """Whether ``candidate`` can follow ``previous`` in an outline (1.2 -> 1.2.1, 1.3, 2, 1.2.1.1 ...)."""
    if not candidate:
        return False
    if previous is None:
        return all(n <= 50 for n in candidate)
    if len(candidate) > len(previous) and candidate[:len(previous)] == previous \
            and all(n == 1 for n in candidate[len(previous):]):
        return True  # the first child, or a deeper first descendant whose parent has no heading (5 -> 5.1.1)
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
    return Heading("", " ".join(line.text.split()), line.heading_level or 1)


def find_headings(lines: list[Line]) -> dict[int, Heading]:
    """Which lines are headings: the numbered outline, or the headings known by their shape in a document that
    has neither a numbered outline nor format-marked headings. A title wrapped onto a second line is joined."""
    found = numbered_headings(lines)
    paginated = any(line.page is not None for line in lines)
    if not paginated and any(line.heading_level is not None for line in lines):
        return found  # HTML or Markdown: the markup says which lines are headings
    if sum(bool(h.number) for h in found.values()) < MIN_NUMBERED_HEADINGS:
        found = rank_unnumbered(lines, found, shaped_headings(lines))
    return join_wrapped_titles(lines, found)


def rank_unnumbered(lines: list[Line], listed: dict[int, Heading], shaped: dict[int, Heading]) -> dict[int, Heading]:
    """Unnumbered headings with their levels. A paginated document's marked lines are those its contents
    lists (at the contents' depth); its print style gives a second rank (ALL CAPS above Title Case, where it
    uses both). Each heading takes the deeper of its two ranks, and one the contents leaves out is never top
    level: on a real manual in the test set that keeps two capitalised sub-headings from becoming parts that
    swallow the sections after them."""
    has_contents = any(not h.number for h in listed.values())
    if has_contents:  # the outline starts at the contents' first entry; a cover before it has no headings
        first = min(i for i, h in listed.items() if not h.number)
        shaped = {i: h for i, h in shaped.items() if i > first}
    found = {**shaped, **listed}
    uses_caps = any(_is_caps(h.title) for h in found.values() if not h.number)
    out = dict(found)
    for i, heading in found.items():
        if heading.number:
            continue
        style = 1 if _is_caps(heading.title) or not uses_caps else 2
        listed_level = heading.level if i in listed else (2 if has_contents else 1)
        out[i] = Heading("", heading.title, max(style, listed_level), heading.lines)
    return out


def numbered_headings(lines: list[Line]) -> dict[int, Heading]:
    """The format-marked headings and the numbered outline.

    A numbered candidate must continue the outline seen so far, or renumber within the same parent
    (real manuals restart 3.3.18 -> 3.3.1). A bare top-level number ("4. Services") counts only when
    the next numbered candidate is its own child ("4.1"), which rules out numbered lists and form
    fields."""
    candidates = {i: _numbered_candidate(lines, i) for i, ln in enumerate(lines) if ln.heading_level is None}
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


def _numbered_candidate(lines: list[Line], i: int) -> Heading | None:
    """The numbered heading line ``i`` starts, if any; a title cut after a comma ("6.9.3 References: Dental,
    Vision," / "Hearing & Speech") takes its next line with it."""
    found = numbered_heading(lines[i].text)
    text = lines[i].text.strip()
    if found or not text.endswith(",") or i + 1 >= len(lines):
        return found
    following = " ".join(lines[i + 1].text.split())
    joined = numbered_heading(f"{text} {following}") if _continues_title(following) else None
    return Heading(joined.number, joined.title, joined.level, lines=2) if joined else None


def _continues_as_sentence(lines: list[Line], i: int) -> bool:
    """A numbered clause wrapped onto the next line ("12.1 Provider agrees to ... or payment / in
    full") is body text, not a heading. A short line is a whole heading even if a lower-case table
    cell follows it, and so is one above a lettered list ("a) Federal Guidance")."""
    if len(lines[i].text.strip()) < 50:
        return False
    for line in lines[i + 1:i + 3]:
        text = line.text.strip()
        if text:
            return text[0].islower() and not LIST_START.match(text)
    return False


def title_shape(text: str) -> bool:
    """A line shaped like an unnumbered heading: a few words in Title Case or ALL CAPS, starting with a capital,
    without sentence punctuation at the end, list marker, contact or link."""
    clean = " ".join(text.split())
    words = clean.split()
    if not words or len(words) > _MAX_SHAPE_WORDS or not clean[0].isupper():
        return False
    if clean.endswith((".", ",", ";", ":", "!", "?")) or LIST_START.match(clean) or _CONTACT_OR_LINK.search(clean):
        return False
    if _SENTENCE_INSIDE.search(clean):
        return False  # "Author, A. (2003). Title of a Work": a citation, not a heading
    if _COLUMN_GAP.search(text.strip()):
        return False  # cells of a table row
    letters = [c for c in clean if c.isalpha()]
    if len(letters) < 3:
        return False
    if _is_caps(clean):
        return True
    if not (_ends_with_connective(clean) or _capitalised(words[-1])):
        return False  # headings end on a noun: "... Primary Insurance", not "... April 1, 2015"
    significant = [w for w in (w.lstrip("(“\"'‘[") for w in words) if w[:1].isalpha() and w.lower() not in _SMALL_WORDS]
    return bool(significant) and sum(w[0].isupper() for w in significant) >= 0.75 * len(significant)


def _capitalised(word: str) -> bool:
    bare = word.strip("()“”\"'‘’[]")
    return bare[:1].isupper()


def _ends_with_connective(title: str) -> bool:
    last = title.split()[-1] if title.split() else ""
    return (len(last) > 1 and last.lower() in _CONNECTIVES) or last in _CONNECTIVES


def _is_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters)


def shaped_headings(lines: list[Line]) -> dict[int, Heading]:
    """Unnumbered headings known by their shape: a Title Case or ALL CAPS line (or two) after the end of a
    paragraph and before body text. Three or more such lines in a row are a list, an address block or a cover,
    not headings. ALL CAPS ranks above Title Case."""
    widths = sorted(len(ln.text.strip()) for ln in lines if ln.text.strip())
    full = widths[int(0.8 * (len(widths) - 1))] if widths else 0  # the width of a full line of running text
    found: dict[int, Heading] = {}
    i = 0
    while i < len(lines):
        if not title_shape(lines[i].text):
            i += 1
            continue
        run = [i]
        while run[-1] + 1 < len(lines) and title_shape(lines[run[-1] + 1].text):
            run.append(run[-1] + 1)
        i = run[-1] + 1
        if len(run) > 2 or not _ends_paragraph(lines, run[0] - 1) or not _starts_body(lines, run[-1] + 1, full):
            continue
        if len(run) == 2 and _ends_with_connective(lines[run[0]].text.strip()):
            run = run[:1]  # one title wrapped onto two lines: join_wrapped_titles joins them
        for k in run:
            title = " ".join(lines[k].text.split())
            found[k] = Heading("", title, 1 if _is_caps(title) else 2)
    return found


def _ends_paragraph(lines: list[Line], k: int) -> bool:
    """Whether line ``k`` closes what came before (or there is nothing before)."""
    if k < 0:
        return True
    text = lines[k].text.strip().rstrip("”’\"')]")
    return not text or text.endswith(SENTENCE_END)


def _starts_body(lines: list[Line], k: int, full: float) -> bool:
    """Whether the first non-blank line from ``k`` on reads like running text or a list, not another short label
    or an address line."""
    following = next((ln.text.strip() for ln in lines[k:] if ln.text.strip()), "")
    if not following:
        return False
    if LIST_START.match(following):
        return True
    if not (following[0].isupper() or following[0] in "“\"‘'"):
        return False  # a bracketed or numbered line below a name is a directory entry: "(Counties ...)", "201 Main"
    return len(following) >= 0.6 * full or following.endswith(SENTENCE_END)


def join_wrapped_titles(lines: list[Line], found: dict[int, Heading]) -> dict[int, Heading]:
    """A heading whose title ends in a connective ("7 Member Rights and") goes on to the next line
    ("Responsibilities"): the two lines are one heading."""
    out = dict(found)
    for i, heading in found.items():
        if lines[i].heading_level is not None or heading.lines > 1 or i + 1 >= len(lines) or i + 1 in found:
            continue
        if not _ends_with_connective(heading.title):
            continue
        following = " ".join(lines[i + 1].text.split())
        if _continues_title(following):
            out[i] = Heading(heading.number, f"{heading.title} {following}", heading.level, lines=2)
    return out


def _continues_title(text: str) -> bool:
    words = text.split()
    return (0 < len(words) <= 8 and text[0].isupper() and not text.endswith((".", ",", ";", ":"))
            and not LIST_START.match(text) and numbered_heading(text) is None)


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

    continuation: set[int] = set()
    for i, line in enumerate(lines):
        heading = headings.get(i)
        if i in continuation:
            continue
        if heading is None:
            body.append(line)
            continue
        continuation.update(range(i + 1, i + heading.lines))
        close()
        level = heading.level
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, f"{heading.number} {heading.title}".strip()))
        current, current_line, body = heading, line, []
    close()
    return sections
