"""Cleaning, heading detection and chunking: the pure functions, on small made-up inputs (and one made-up PDF)."""

from __future__ import annotations

from conftest import make_pdf

from assistant.contacts import find_contacts
from ingest.chunking import Unit, pack_units, split_sentences
from ingest.clean import (
    contents_entries,
    find_running_keys,
    is_contents_line,
    join_wrapped,
    pdf_lines,
    printed_label,
    repair_phone_numbers,
    running_key,
    strip_running_lines,
    unwrap,
)
from ingest.model import Line
from ingest.pipeline import load_document
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


# --- unnumbered manuals, wrapped and deep headings, contents, page labels, phone numbers -----------------------

_BODY = ("Providers must check each member's eligibility on the portal before every visit and keep the "
         "response with the record for audit.")


def _lines(*texts: str, page: int = 1) -> list[Line]:
    return [Line(t, page) for t in texts]


def _paths(lines: list[Line]) -> list[tuple[str, ...]]:
    return [s.heading_path for s in split_sections(lines)]


def test_unnumbered_title_case_and_capital_headings_are_found():
    """Regression: a manual whose headings are unnumbered lines (Title Case or ALL CAPS, set apart only by
    font) had no heading found at all, so every chunk had an empty section."""
    lines = _lines("OVERVIEW", _BODY, "Ends here.", "Eligibility Checks", _BODY, "Claims Submission", _BODY,
                   "PART TWO SERVICES", _BODY, "Residential Care", _BODY)
    assert _paths(lines) == [("OVERVIEW",), ("OVERVIEW", "Eligibility Checks"), ("OVERVIEW", "Claims Submission"),
                             ("PART TWO SERVICES",), ("PART TWO SERVICES", "Residential Care")]


def test_lists_fields_rows_addresses_and_running_text_are_not_unnumbered_headings():
    """List items, form fields, a table row, a list of policy names, an address block, a citation and
    the short last line of a wrapped sentence must stay body text."""
    lines = _lines("Eligibility Checks", _BODY,
                   "• Member Services Line", _BODY, "a) Provider Portal", _BODY,  # list items
                   "Member Name:", _BODY,  # form field
                   "Claim Type   Deadline   Form", _BODY + " The table:",  # a table row of Title Case cells
                   "Advance Directives", "Critical Incidents", "Record Retention", _BODY,  # a list of names
                   "North Region Office", "(Alpha and Beta Counties)", "100 Main Street, Springfield",  # directory
                   "Phone: 555-555-0100", _BODY,
                   "Smith, A. (2003). Guide to Claims", _BODY,  # a citation
                   "Providers must send the form to the plan within thirty days of the date of",
                   "Service Approval", "and keep a copy.")
    assert [s.label for s in split_sections(lines)] == ["Eligibility Checks"]


def test_a_numbered_outline_is_not_mixed_with_shape_headings():
    """A manual that numbers its headings keeps its outline: Title Case lines inside a section are left alone
    (the bundled corpus and the Idaho handbooks keep their sections)."""
    lines = _lines("1. Policies", "1.1 Scope", _BODY, "Important Reminders", _BODY, "1.2 Limits", _BODY)
    assert [s.label for s in split_sections(lines)] == ["1 Policies", "1.1 Scope", "1.2 Limits"]


def test_headings_wrapped_onto_two_lines_are_joined():
    """Regression: "7 Member Rights and" / "Responsibilities" was cut after "and", the second line went into
    the body, and a title cut after a comma was not found at all."""
    lines = _lines("7. Member Rights and", "Responsibilities", "7.1 Grievances", _BODY,
                   "7.2 References: Dental, Vision,", "Hearing & Speech", _BODY,
                   "Claims Coordination &", "Payment", _BODY)
    sections = split_sections(lines)
    assert [s.label for s in sections] == ["7 Member Rights and Responsibilities", "7.1 Grievances",
                                           "7.2 References: Dental, Vision, Hearing & Speech"]
    assert all("Responsibilities" not in seg.text and "Hearing" not in seg.text
               for s in sections for seg in s.segments)
    lines = _lines("Care Coordination", _BODY, "Claims Coordination &", "Payment", _BODY)
    assert [s.label for s in split_sections(lines)] == ["Care Coordination", "Claims Coordination & Payment"]


def test_deep_numbering_and_a_skipped_level_are_outline():
    """5.11.2.1 sits under 5.11.2; "5.1.1" right after "5." (its 5.1 has no heading) was body text."""
    lines = _lines("5. Claims", "5.1.1 References: Claims", _BODY, "5.2 Appeals", "5.2.1 First Level", _BODY,
                   "5.2.1.1 Deep Title", _BODY, "5.2.1.2 Another Deep Title", _BODY, "5.3 Refunds", _BODY)
    paths = {s.number: s.heading_path for s in split_sections(lines)}
    assert set(paths) == {"5", "5.1.1", "5.2", "5.2.1", "5.2.1.1", "5.2.1.2", "5.3"}
    assert paths["5.2.1.2"] == ("5 Claims", "5.2 Appeals", "5.2.1 First Level", "5.2.1.2 Another Deep Title")


def test_numbered_titles_that_start_with_a_code_or_sit_above_a_lettered_list():
    """Regression: a title starting with a code ("340B ...") and a long heading above a lettered list
    ("a) Federal Guidance", taken for a wrapped sentence) were lost."""
    lines = _lines("1. Billing", "1.6 Hospice", _BODY, "1.7 340B Drug Pricing", _BODY,
                   "1.7.1 References: Pharmacy Lock-in Rules for Enrolled Members", "a) Federal Guidance", _BODY)
    assert [s.number for s in split_sections(lines)] == ["1", "1.6", "1.7", "1.7.1"]
    assert numbered_heading("10 percent of the stock issued") is None


def _contents_pages() -> list[list[str]]:
    contents = ["Table of Contents", "Introduction            Page 2",
                "  Eligibility Checks________________ Page 2", "  Claims Submission_________________ Page 3",
                "Member Services            Page 3", "  Regional Offices__________________ Page 3",
                "Care Plans______________________ Page 3"]
    body = ["INTRODUCTION", _BODY, "Eligibility Checks", _BODY, "Claims Submission", _BODY,
            "MEMBER SERVICES", _BODY, "REGIONAL OFFICES", _BODY, "Care Plans (CP)", _BODY,
            "ANNUAL REVIEWS", _BODY]
    return [contents, body]


def test_contents_entries_give_levels_and_off_by_one_pages_do_not_matter():
    """Regression: on a manual with an indented contents, an ALL CAPS sub-heading became a part of its own
    and took the following sections with it. The contents' depth and the print style
    both rank a heading, the deeper wins, and a heading the contents leaves out is never top level. Entries are
    matched in order by title, so a contents page number one off (Claims Submission: page 3, printed on 2)
    changes nothing."""
    lines = pdf_lines(_contents_pages())
    assert "Table of Contents" not in [ln.text for ln in lines]
    marked = {ln.text: ln.heading_level for ln in lines if ln.heading_level}
    assert marked == {"INTRODUCTION": 1, "Eligibility Checks": 2, "Claims Submission": 2, "MEMBER SERVICES": 1,
                      "REGIONAL OFFICES": 2, "Care Plans (CP)": 1}
    paths = [s.heading_path for s in split_sections(lines)]
    assert paths == [("INTRODUCTION",), ("INTRODUCTION", "Eligibility Checks"), ("INTRODUCTION", "Claims Submission"),
                     ("MEMBER SERVICES",), ("MEMBER SERVICES", "REGIONAL OFFICES"),
                     ("MEMBER SERVICES", "Care Plans (CP)"), ("MEMBER SERVICES", "ANNUAL REVIEWS")]


def test_contents_entries_read_with_their_depth():
    entries = contents_entries(["Overview ......... 1", "   Scope ......... 2", " Claims ......... 3",
                                "3.1 Numbered Entry ......... 4"])
    assert [(e.title, e.level) for e in entries] == [("Overview", 1), ("Scope", 2), ("Claims", 1)]


def test_page_number_on_the_same_line_as_a_year():
    """Regression: a running footer printing the year and the page number without the word "page"
    ("2025 edition   12") gave no printed page label at all."""
    for footer in ("2025 edition  {n}", "{n}   Acme Manual 2025", "Acme Manual | 2025 | 5-{n}"):
        pages = [f"Acme Handbook\nThe {w} rule applies here.\nSee {_WORDS[-n]} too.\n{footer.format(n=n)}"
                 for n, w in enumerate(_WORDS[:6], start=1)]
        _, labels = strip_running_lines(pages)
        want = {n: footer.format(n=n).split()[-1] if "|" in footer else str(n) for n in range(1, 7)}
        assert labels == want, footer
    pages = [f"Acme Manual 2025\nThe {w} rule applies.\nMore text." for w in _WORDS[:6]]
    assert strip_running_lines(pages)[1] == {}  # a year alone is not a page number


def test_phone_numbers_split_by_extraction_are_rejoined():
    """Regression: "1-888-555- 0100" (a stray space) and a number broken after its hyphen at a line end were
    not found as contacts; "1(877) 555-0100" (country code glued to the bracket) was not either."""
    assert repair_phone_numbers("Phone: 1-888-555- 0100 or (517) 34 6-8459") == \
        "Phone: 1-888-555-0100 or (517) 346-8459"
    assert repair_phone_numbers("Provider Number: 1(877) 555-0101") == "Provider Number: 1 (877) 555-0101"
    assert repair_phone_numbers("Claims 2015 - 2017, pages 10-12, code 99213 99214") == \
        "Claims 2015 - 2017, pages 10-12, code 99213 99214"
    assert join_wrapped("call the line: 1-888-555-", "0102 or write") == "call the line: 1-888-555-0102 or write"
    assert join_wrapped("as defined in Sections 18-", "3604") == "as defined in Sections 18-3604"
    assert join_wrapped("the 11-", "digit code") == "the 11- digit code"
    text = "Call 1-888-555-0100, 1 (877) 555-0101 or (517) 346-8459."
    assert [m.value for m in find_contacts(repair_phone_numbers("Call 1-888-555- 0100, 1(877) 555-0101 or "
                                                                "(517) 34 6-8459."))] == \
        ["1-888-555-0100", "1 (877) 555-0101", "(517) 346-8459"]
    assert len(find_contacts(text)) == 3


def test_unnumbered_manual_pdf_gets_sections_and_whole_phone_numbers(tmp_path):
    """End to end on a made-up PDF shaped like the unnumbered real manual: a cover, an indented contents with
    leaders and off-by-one pages, unnumbered headings and a directory whose numbers extraction splits."""
    def para(topic: str) -> tuple[str, str]:
        return (f"Providers in every region follow the same rules for {topic}, authorizations and claims,",
                f"and the plan reviews each provider's {topic} records once a year against those rules.")

    pages = [["ACME HEALTH PLAN", "PROVIDER MANUAL", "Effective January 1, 2030"],
             ["TABLE OF CONTENTS", "Introduction                 Page 3",
              "  Eligibility Checks____________________ Page 4", "  Regional Offices______________________ Page 4",
              "Claims                        Page 4"],
             ["INTRODUCTION", *para("intake"), "Eligibility Checks", *para("eligibility"),
              "Call the eligibility line at 1-888-555-", "0103 before each visit."],
             ["Regional Offices", *para("office"), "North Region Office", "(Alpha, Beta and Gamma Counties)",
              "100 Main Street, Springfield", "Phone: 1-888-555- 0100", "Fax: (555) 555-0101",
              "CLAIMS", *para("billing")]]
    path = make_pdf(tmp_path / "manual.pdf", pages)
    loaded = load_document(path)
    sections = split_sections(loaded.lines)
    assert [s.heading_path for s in sections if s.label] == [
        ("INTRODUCTION",), ("INTRODUCTION", "Eligibility Checks"), ("INTRODUCTION", "Regional Offices"), ("CLAIMS",)]
    text = "\n".join(seg.text for s in sections for seg in s.segments)
    assert {m.value for m in find_contacts(text)} == {"1-888-555-0103", "1-888-555-0100", "(555) 555-0101"}
