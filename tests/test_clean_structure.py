"""Cleaning, heading detection and chunking: the pure functions, on small made-up inputs."""

from __future__ import annotations

from ingest.chunking import Unit, pack_units, split_sentences
from ingest.clean import (
    find_running_keys,
    is_contents_line,
    join_wrapped,
    pdf_lines,
    printed_label,
    running_key,
    strip_running_lines,
    unwrap,
)
from ingest.model import Line
from ingest.structure import find_headings, is_successor, numbered_heading, split_sections

_WORDS = [
    'claims', 'eligibility', 'referrals', 'appeals', 'records', 'audits', 'billing', 'coverage',
    'members', 'providers', 'plans', 'forms', 'notices', 'letters', 'reviews', 'limits', 'codes',
    'fees', 'rates', 'visits', 'labs', 'drugs', 'beds', 'nurses', 'clinics', 'offices', 'hours',
    'rights', 'duties',
]


def _pages(n: int) -> list[str]:
    out = []
    for i in range(1, n + 1):
        body = "\n".join(f"The {_WORDS[(i * 7 + k) % len(_WORDS)]} rule about {_WORDS[(i + k * 3) % len(_WORDS)]}."
                         for k in range(8))
        out.append(f"Acme Provider Handbook Billing\nJuly 1, 2025  Page {i} of {n}\n{body}")
    return out


def test_running_key_ignores_page_numbers_and_roman_numerals():
    assert running_key("July 1, 2025  Page 5 of 162") == running_key("July 1, 2025  Page iv")


def test_running_header_and_footer_are_stripped_and_labels_kept():
    pages = _pages(6)
    cleaned, labels = strip_running_lines(pages)
    text = "\n".join("\n".join(p) for p in cleaned)
    assert "Acme Provider Handbook" not in text
    assert "Page" not in text
    assert all(f"The {w} rule" in text for w in _WORDS[:5])
    assert labels == {i: str(i) for i in range(1, 7)}


def test_lines_on_few_pages_are_not_running_text():
    pages = _pages(6)
    pages[2] = "Important notice\n" + pages[2]
    assert "important notice" not in find_running_keys(pages)


def test_printed_label_forms():
    assert printed_label(["Edition 2025 Page 5-3"]) == "5-3"
    assert printed_label(["Handbook", "iii"]) == "iii"
    assert printed_label(["no number here"]) is None


def test_contents_lines_and_contents_pages_are_dropped():
    assert is_contents_line("1.1. Employees and Contractors ........................ 5")
    assert is_contents_line("5.1 Whom to Contact . . . . . . . 5-1")
    assert not is_contents_line("Claims must be filed within 365 days.")
    # the Michigan manual's contents: underscore leaders, or a wide gap, before "Page N"
    assert is_contents_line("  Service Codes & Rates____________________________ Page14")
    assert is_contents_line(" Treatment Provider Expectations                     Page12")
    assert not is_contents_line("Complete the form on page 12 and fax it.")
    toc = [f"{i}.1 Topic {i} ............ {i}" for i in range(1, 8)]
    lines = pdf_lines([toc, ["1. Real heading", "Body text."]])
    assert [ln.text for ln in lines if ln.text] == ["1. Real heading", "Body text."]


def test_hyphenation_and_split_urls_are_rejoined():
    assert join_wrapped("the appli-", "cation was late") == "the application was late"
    assert join_wrapped("see https://example.org/Newsletters/April%202018.pd", "f.") == \
        "see https://example.org/Newsletters/April%202018.pdf."
    assert join_wrapped("a well- ", "known rule") == "a well- known rule"


def test_unwrap_joins_wrapped_lines_and_splits_paragraphs_and_bullets():
    lines = [Line("Providers must verify eligibility before every visit and keep a", 1),
             Line("copy of the response in the record.", 1),
             Line("", 1),
             Line("• Call Member Services.", 1),
             Line("• Use the portal.", 2)]
    segs = unwrap(lines)
    assert [s.text for s in segs] == [
        "Providers must verify eligibility before every visit and keep a copy of the response in the record.",
        "• Call Member Services.", "• Use the portal."]
    assert segs[-1].page == 2


def test_numbered_heading_forms():
    assert numbered_heading("Section 5: Billing and Payment").number == "5"
    h = numbered_heading("5.3.1 Record Authorization Number")
    assert (h.number, h.title, h.level) == ("5.3.1", "Record Authorization Number", 3)
    assert numbered_heading("1.1. Employees and Contractors").number == "1.1"
    assert numbered_heading("1. Submit the form to the plan within 30 days.") is None
    assert numbered_heading("10 percent of the stock issued") is None


def test_outline_successors():
    assert is_successor((5,), (5, 1))
    assert is_successor((5, 3, 1), (5, 4))
    assert is_successor((5, 3, 1), (6,))
    assert not is_successor((5, 3), (1,))
    assert not is_successor((5, 3), (5, 9))
    assert is_successor((1, 11), (2, 1))  # part 2 whose own heading is unnumbered ("Section 2: ...")
    assert not is_successor((1, 11), (2, 2))


def test_bare_part_headings_without_children_are_headings():
    """Regression: a policy's "4. Procedure", "5. Non-compliance" (no 4.1 below) were dropped, so their
    text was filed under 3.7; the unrelated list "1. Call ... 2. Fax ..." must stay body text."""
    texts = ["1. Purpose", "Why.", "More.", "Still more.", "2. Scope", "Who.", "More.", "Still more.",
             "3. Policy", "3.1 Timeframe", "Text.",
             "4. Procedure", "Do this.", "More.", "Still more.", "5. Non-compliance", "Text.",
             "1. Call the Line", "2. Fax the Form"]
    found = find_headings([Line(t, 1) for t in texts])
    assert [texts[i] for i in sorted(found)] == ["1. Purpose", "2. Scope", "3. Policy", "3.1 Timeframe",
                                                 "4. Procedure", "5. Non-compliance"]


def test_short_heading_above_a_lower_case_table_cell_is_kept():
    """Regression: "7.9.3 What to Report and When" followed by a table whose first cell is "event" was
    taken for a wrapped sentence and lost."""
    texts = ["7.9 Sentinel Events", "Text.", "7.9.3 What to Report and When", "event", "deadline"]
    assert len(find_headings([Line(t, 1) for t in texts])) == 2


def test_numbered_list_inside_a_section_is_not_a_heading():
    """Regression: claim-form field lists ("3 Sex") were taken for a top-level heading 3, which then
    rejected the real "3. Required Coding" and misfiled every 3.x section."""
    texts = ["1. Policies", "1.1 Scope", "Text.", "2. Claim Form Instructions", "2.1 Fields",
             "2 Patient Name", "3 Sex", "19 Additional Claim Information", "3. Required Coding",
             "3.1 Diagnosis Codes", "Text."]
    found = find_headings([Line(t, 1) for t in texts])
    assert [texts[i] for i in sorted(found)] == ["1. Policies", "1.1 Scope", "2. Claim Form Instructions",
                                                 "2.1 Fields", "3. Required Coding", "3.1 Diagnosis Codes"]


def test_renumbering_within_a_parent_is_tolerated():
    """Regression: a real handbook restarts 3.3.18 -> 3.3.1; those sections were lost."""
    texts = ["3. Coding", "3.3 Modifiers", "3.3.18 Modifier 62: Two Surgeons", "3.3.1 Modifier 66: Team"]
    assert len(find_headings([Line(t, 1) for t in texts])) == 4


def test_a_numbered_clause_that_jumps_back_is_not_a_heading():
    """Regression: a handbook's appendix prints a provider agreement whose clause "9.2 PROVIDER agrees to be
    responsible for ..." came after section 9.15.1 and was taken for a section 9.2 (the handbook has a real
    one), so every later page of the agreement was cited under that clause."""
    texts = ["9. Covered Services", "9.2 Experimental Services", "9.15 Wellness Incentive", "9.15.1 References",
             "9.2 PROVIDER agrees to be responsible for the accuracy of claims submitted to the"]
    found = find_headings([Line(t, 1) for t in texts])
    assert [texts[i] for i in sorted(found)] == texts[:4]


def test_sections_carry_heading_paths():
    lines = [Line("Section 5: Billing and Payment", 1), Line("5.1 Whom to Contact", 1),
             Line("Call the Provider Assistance Unit.", 1), Line("5.3 Claims Filing", 2),
             Line("5.3.1 Record Authorization Number", 2), Line("Put the number on the claim.", 2)]
    sections = {s.number: s for s in split_sections(lines)}
    assert sections["5.3.1"].heading_path == ("5 Billing and Payment", "5.3 Claims Filing",
                                              "5.3.1 Record Authorization Number")
    assert sections["5.3.1"].page == 2


def test_explicit_headings_from_html_or_markdown():
    lines = [Line("Portal", heading_level=1, block_start=True), Line("Intro.", block_start=True),
             Line("Justice Involved Liaison", heading_level=2, anchor="jil", block_start=True),
             Line("Call them.", block_start=True)]
    sections = split_sections(lines)
    assert sections[-1].heading_path == ("Portal", "Justice Involved Liaison")
    assert sections[-1].anchor == "jil"


def test_sentences_respect_abbreviations():
    assert split_sentences("Dr. Horton leads it, e.g. for ECM. Call 5 p.m. today. Done.") == [
        "Dr. Horton leads it, e.g. for ECM.", "Call 5 p.m. today.", "Done."]


def _units(sizes: list[tuple[int, int]]) -> list[Unit]:
    return [Unit(f"s{n}", tokens, section, 1, False) for n, (tokens, section) in enumerate(sizes)]


def test_packing_respects_budget_and_overlaps_inside_a_section():
    chunks = pack_units(_units([(40, 0)] * 6), budget=100, overlap=45, min_tokens=10)
    assert all(sum(u.tokens for u in c) <= 100 for c in chunks)
    assert chunks[1][0].text == chunks[0][-1].text  # one sentence of overlap


def test_new_section_starts_a_new_chunk_without_overlap():
    chunks = pack_units(_units([(50, 0), (50, 1)]), budget=200, overlap=40, min_tokens=20)
    assert [[u.section for u in c] for c in chunks] == [[0], [1]]


def test_tiny_sections_merge_with_neighbours():
    chunks = pack_units(_units([(5, 0), (6, 1), (50, 2), (4, 3)]), budget=200, overlap=0, min_tokens=20)
    assert [[u.section for u in c] for c in chunks] == [[0, 1, 2, 3]]
