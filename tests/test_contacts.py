"""Contact extraction keeps numbers and addresses exactly as printed, with what they are for."""

from assistant.contacts import find_contacts, normalize_contact


def test_phone_and_email_with_department_and_context():
    text = ("To reach the Justice Involved Liaison, e-mail Ji-Liaison@kp.org or call 626-405-5386. "
            "Questions about your rights go to our Provider Relations Department at 503-813-3376.")
    found = {m.value: m for m in find_contacts(text)}
    assert set(found) == {"Ji-Liaison@kp.org", "626-405-5386", "503-813-3376"}
    assert found["626-405-5386"].department == "Justice Involved Liaison"
    assert found["503-813-3376"].department == "Provider Relations Department"
    assert found["503-813-3376"].context.startswith("Questions about your rights")


def test_a_name_right_before_at_is_whom_the_contact_reaches():
    found = {m.value: m.department for m in find_contacts(
        "Send the form to the Medi-Cal ECM and Community Supports referral team at ecm@example.org. "
        "Send it to Provider Appeals at appeals@example.org (secure e-mail). "
        "Questions about a records request should go to the SIU at 503-555-0151. "
        "For sign-on trouble, contact the KP Online Affiliate help desk at 503-555-0105. "
        "Mail the summary to the member's primary care physician at pcp@example.org. "
        "Call us at 503-555-0199 with questions.")}
    assert found["ecm@example.org"] == "Medi-Cal ECM and Community Supports referral team"
    assert found["appeals@example.org"] == "Provider Appeals"  # no department word, yet a name
    assert found["503-555-0151"] == "SIU"
    assert found["503-555-0105"] == "KP Online Affiliate help desk"
    assert found["pcp@example.org"] is None  # "the member's primary care physician" is no desk
    assert found["503-555-0199"] is None


def test_fax_and_formats_as_printed():
    found = find_contacts("Fax requests to 503-555-0121. Call 1 (866) 686-4272 ext. 12 or 208.334.5795.")
    assert [(m.value, m.kind) for m in found] == [("503-555-0121", "fax"), ("1 (866) 686-4272 ext. 12", "phone"),
                                                   ("208.334.5795", "phone")]


def test_no_false_contacts_in_codes_and_dates():
    assert find_contacts("IDAPA 16.03.09, form MA07-24, 12/13/2007, claim 2024-0001-0002, APL 21-002.") == []


def test_email_at_sentence_end_and_normalisation():
    [m] = find_contacts("Send it to Medicaid-PROV-Team@kp.org.")
    assert m.value == "Medicaid-PROV-Team@kp.org"
    assert normalize_contact("1 (503) 813-3376") == normalize_contact("503.813.3376") == "5038133376"


def _profiles(*texts: str) -> dict[str, list[str]]:
    """Department labels by contact value, for chunks holding ``texts`` (extracted as ingestion does)."""
    from types import SimpleNamespace

    from assistant.routing import build_profiles
    from assistant.schema import Chunk
    from ingest.pipeline import extract_contacts

    chunks = [Chunk(chunk_id=f"c{n}", doc_id="doc", doc_title="Manual", text=t, embed_text=t, source_path="m.html",
                    url=None, section=f"{n} Where to Send It", heading_path=("Where to Send It",), sections=(str(n),),
                    page=None, page_end=None, printed_page=None, region=None, edition=None, status="current",
                    doc_hash="h", chunk_hash=f"h{n}", n=n, token_count=50) for n, t in enumerate(texts, 1)]
    snapshot = SimpleNamespace(contacts=extract_contacts(chunks), chunks={c.chunk_id: c for c in chunks},
                               documents={"doc": SimpleNamespace(chunk_ids=[c.chunk_id for c in chunks])})
    labels: dict[str, list[str]] = {}
    for p in build_profiles(snapshot):
        labels.setdefault(p.contact.value, []).append(p.department)
    return labels


def test_a_contact_is_named_after_its_own_department_not_the_row_above_or_its_section():
    labels = _profiles(
        "Key contacts\nBehavioral Health Access Line | 503-555-0195 | Referrals\n"
        "Claims | 503-555-0130 | Claim status and payment questions",
        "Tell Provider Contracting and Relations at nw-relations@example.org about new practitioners.",
        "Scan the signed form and e-mail it to nw-relations@example.org.",
        "Call the Referral and Authorization Department at 503-555-0120 (fax 503-555-0121).",
    )
    assert labels["503-555-0195"] == ["Behavioral Health Access Line"]
    assert labels["503-555-0130"] == ["Claims"]  # its own row's cell, never the line above
    # a sentence without a name borrows the name printed beside the same address elsewhere
    assert labels["nw-relations@example.org"] == ["Provider Contracting and Relations"] * 2
    assert labels["503-555-0121"] == ["Referral and Authorization Department"]  # "(fax ...)" after its phone


def test_an_acronym_name_is_spelled_out_as_its_document_defines_it():
    labels = _profiles("Members leaving incarceration: Justice Involved Liaison (JIL) helps them keep their care.",
                       "Contact the JIL at jil@example.org or 626-555-0100.")
    assert labels["jil@example.org"] == ["Justice Involved Liaison"]
    assert labels["626-555-0100"] == ["Justice Involved Liaison"]  # printed right after, same desk
