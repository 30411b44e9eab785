"""The member-identifier screen on the PHI test sets (tests/data/phi_*.jsonl; see benchmarks/phi_detectors.py
for the per-form table) and on the forms the trust review found stored in clear."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assistant.phi import PhiScreen
from assistant.safety import screen
from evals.questions import default_question_files, load_questions

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus_screen() -> PhiScreen:
    """The screen as the service builds it: knowing the bundled corpus's words and printed contacts."""
    files = [f for f in sorted((ROOT / "corpus").rglob("*")) if f.suffix in (".md", ".html")]
    text = "\n".join(f.read_text(encoding="utf-8") for f in files)
    values = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\(?\d{3}\)?[-.\s]\d{3}[-.\s]\d{4}", text)
    return PhiScreen.from_sources(text, values)


@pytest.mark.parametrize("prefix", ["phi_", "phi_holdout_"])
@pytest.mark.parametrize("known", [False, True], ids=["no-sources", "corpus-sources"])
def test_no_identifier_of_the_test_sets_survives(prefix, known, corpus_screen):
    phi = corpus_screen if known else None
    leaked = [(row["id"], x) for row in _rows(f"{prefix}identifiers.jsonl")
              for x in row["identifiers"] if x.lower() in screen(row["text"], phi).redacted.lower()]
    assert not leaked


@pytest.mark.parametrize("prefix", ["phi_", "phi_holdout_"])
def test_clean_questions_keep_every_word(prefix, corpus_screen):
    """At most 1% of questions without identifiers may lose a word (the issue's bar), with the sources known."""
    rows = _rows(f"{prefix}clean.jsonl")
    changed = [row["text"] for row in rows if screen(row["text"], corpus_screen).redacted != row["text"]]
    assert len(changed) <= 0.01 * len(rows), changed


def test_evaluation_questions_without_identifiers_are_left_alone(corpus_screen):
    """Six hundred provider questions written for the evaluation, screened as the service screens them (knowing
    the sources' words: "can we bill kaiser instead" names the plan, not a patient): the screen touches only
    those carrying member data (and the injected plan e-mails of two injection questions, which are no loss)."""
    touched = [q.id for q in load_questions(default_question_files(ROOT))
               if not q.phi and q.kind != "injection" and screen(q.question, corpus_screen).redacted != q.question]
    assert not touched


@pytest.mark.parametrize(("text", "identifier"), [
    ("pt ssn 123 45 6789 on the claim?", "123 45 6789"),
    ("member born 1958-07-22, is she eligible", "1958-07-22"),
    ("medi-cal cin 91234567A share of cost?", "91234567A"),
    ("her email is maria.lopez77@gmail.com, can you send the EOB", "maria.lopez77@gmail.com"),
    ("patient Rosenberg - why was the claim paid at 60%?", "Rosenberg"),
    ("pt okafor needs an auth", "okafor"),
    ("member Whitfield called", "Whitfield"),
    ("does tyler brooks need a referral", "tyler brooks"),
    # found by review after the sets were done: common given names before a listed surname, names in capitals
    ("john brown needs an mri auth", "john brown"),
    ("Please verify coverage for WILLIAM BROWN", "WILLIAM BROWN"),
    ("Is pt SMITH, JOHN covered", "SMITH, JOHN"),
    ("for member RODRIGUEZ, ELENA - dob 08/08/1958", "RODRIGUEZ, ELENA"),
])
def test_forms_the_review_found_stored_in_clear(text, identifier):
    """8 of 20 identifier forms were stored unredacted with phi_detected false (issue 27)."""
    found = screen(text)
    assert identifier not in found.redacted and found.phi


def test_overlapping_findings_are_one_redaction():
    """'RODRIGUEZ, ELENA' was found as a surname run and as a name in capitals: two overlapping spans."""
    assert screen("for member RODRIGUEZ, ELENA - dob 08/08/1958").redacted == "for member [redacted] - dob [redacted]"


def test_a_label_without_a_value_keeps_the_words_after_it():
    """'timely filing limit for MRN ...' lost 'limit for' to the old name pattern."""
    assert screen("timely filing limit for MRN corrections?").redacted == "timely filing limit for MRN corrections?"
    assert screen("timely filing limit for MRN 00482211?").redacted == "timely filing limit for MRN [redacted]?"


def test_an_everyday_word_after_pts_is_no_name():
    """"pts owe a copay": "owe" is a given name in some locale's list, and was redacted after the plural "pts"
    (a held-out question, real-fresh-r-01); one patient named after "pt" still is."""
    assert screen("do adult medicaid pts owe a copay at check in?").redacted == \
        "do adult medicaid pts owe a copay at check in?"
    assert screen("pt okafor needs an auth").redacted == "pt [redacted] needs an auth"


def test_a_preposition_after_pt_is_no_name():
    """"per pt per month": "Per" is a given name, but in a question typed in lower case it is the preposition
    (a blind question, real-blind-r-06); capitalised after "pt", it is still a name."""
    assert screen("what does tier II pay per pt per month for case mgmt?").redacted == \
        "what does tier II pay per pt per month for case mgmt?"
    assert "Per" not in screen("pt Per Lindqvist called about her auth").redacted


def test_the_plans_own_numbers_and_addresses_stay(corpus_screen):
    kept = ["is 503-555-0130 still the claims help line?", "send it to nw-claims-appeals@example.org?",
            "Dr. Okafor wants to refer, is that ok?", "effective 07/01/2025 what changed?"]
    for text in kept:
        assert screen(text, corpus_screen).redacted == text
