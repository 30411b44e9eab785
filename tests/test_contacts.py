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
