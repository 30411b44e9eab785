"""What kind of answer a question asks for (a time, a contact) and whether a text gives one: the answerer
prefers sentences that give it, retrieval prefers passages that do, and answerability notices when none
does."""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.contacts import EMAIL_RE, PHONE_RE

DURATION_WORDS = r"(minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?)"
NUMBER_WORD = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|" \
              r"thirty|forty[- ]five|sixty|ninety|a|an)"
DURATION_GIVEN = re.compile(  # a time stated: "within 30 days", "three business days", "annually"
    rf"\b{NUMBER_WORD}[- ]?(\(\d+\)\s*)?(calendar |business |working |full )?"
    r"(minutes?|hours?|days?|weeks?|months?|years?)\b"
    r"|\b(immediately|same[- ]day|next (business |working )?day|annual(ly)?|yearly|quarterly|monthly|weekly|daily|"
    r"promptly|without delay|at once|each year|every year|before the (service|visit|admission))\b",
    re.IGNORECASE)
# a time in a sentence, numbers spelled out too ("at least three business days before")
TIME_GIVEN = re.compile(DURATION_GIVEN.pattern + r"|\bwithin\b", re.IGNORECASE)
ASKS_TIME = re.compile(r"\bhow (long|soon|quickly|fast|late|early|often|far (ahead|in advance)|"
                       r"much (time|notice|lead time|advance))\b"
                       rf"|\bhow many (\w+ )?{DURATION_WORDS}\b"
                       r"|\bwhen\b|\bdeadline|\btime ?(limit|frame)|\bwithin\b|\bdays?\b|\bhours?\b", re.IGNORECASE)
ASKS_CONTACT = re.compile(r"\bwho\b|\bcall\b|\bphone\b|\bnumber\b|\be-?mail\b|\bfax\b|\bcontact\b|\breach\b|"
                          r"\bsend\b|\bsubmit\b|\bwhere\b|\baddress\b|\btalk to\b|\bline\b", re.IGNORECASE)


@lru_cache(maxsize=256)  # the answerer asks it once per candidate sentence of the same question
def asked_kinds(question: str) -> frozenset[str]:
    """The kinds of answer a question asks for: "time" ("how long do we have"), "contact" ("who do I call")."""
    kinds = set()
    if ASKS_TIME.search(question):
        kinds.add("time")
    if ASKS_CONTACT.search(question):
        kinds.add("contact")
    return frozenset(kinds)


def given_kinds(text: str) -> frozenset[str]:
    """The kinds of answer a text gives: a time, a phone number or e-mail."""
    kinds = set()
    if TIME_GIVEN.search(text):
        kinds.add("time")
    if PHONE_RE.search(text) or EMAIL_RE.search(text):
        kinds.add("contact")
    return frozenset(kinds)
