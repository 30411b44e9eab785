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
# a time in a sentence, numbers spelled out too ("at least three business days before"); a time of day or the days
# of the week a desk is open ("Monday through Friday from 7 A.M. to 7 P.M.") answers "what hours"
_CLOCK = r"\d{1,2}(?::\d\d)?\s?(?:a\.?m\b\.?|p\.?m\b\.?|noon)"
TIME_GIVEN = re.compile(DURATION_GIVEN.pattern + r"|\bwithin\b"
                        rf"|\b{_CLOCK}\s*(?:to|-|–|until|through)\s*{_CLOCK}"
                        r"|\b(?:monday|mon)\.?\s*(?:through|thru|to|-|–)\s*(?:friday|fri)\b", re.IGNORECASE)
ASKS_TIME = re.compile(r"\bhow (long|soon|quickly|fast|late|early|often|far (ahead|in advance)|"
                       r"much (time|notice|lead time|advance))\b"
                       rf"|\bhow many (\w+ )?{DURATION_WORDS}\b"
                       r"|\bwhen\b|\bdeadline|\btime ?(limit|frame)|\bwithin\b|\bdays?\b|\bhours?\b", re.IGNORECASE)
# a number asked for that is not a time: "how many units", "what % does each surgeon get", "max detail lines",
# "up to what age"; and a sentence stating one: money, a percentage, or a count of something ("50 details",
# "six (6) visits", "the 36th month"), not a phone number, a date or a section number
ASKS_QUANTITY = re.compile(r"\bhow (?:much|many|old)\b|\bwhat (?:%|(?:percent(?:age)?|amount|rate|age)\b)"
                           r"|\bmax(?:imum)?\b|\bminimum\b|\b(?:limit|cap) (?:on|of|for)\b|\bup to (?:what|how)\b"
                           r"|\bwhat (?:\w+ )?(?:fee|price|cost)\b", re.IGNORECASE)
_COUNT = r"(?<![-.)/])\b\d{1,3}(?:,\d{3})*(?:st|nd|rd|th)?|\b(?:" + NUMBER_WORD[5:-1].replace("|a|an", "") + ")"
QUANTITY_GIVEN = re.compile(rf"\$\s?\d|\b\d+(?:\.\d+)?\s?(?:%|percent)|(?:{_COUNT})(?:\s\(\d+\))?\s"
                            r"(?!(?:of|and|or|to|the|a|an)\b)(?-i:[a-z]{3,})", re.IGNORECASE)
ASKS_CONTACT = re.compile(r"\bwho\b|\bcall\b|\bphone\b|\bnumber\b|\be-?mail\b|\bfax\b|\bcontact\b|\breach\b|"
                          r"\bsend\b|\bsubmit\b|\bwhere\b|\baddress\b|\btalk to\b|\bline\b", re.IGNORECASE)


@lru_cache(maxsize=256)  # the answerer asks it once per candidate sentence of the same question
def asked_kinds(question: str) -> frozenset[str]:
    """The kinds of answer a question asks for: "time" ("how long do we have"), "contact" ("who do I call"),
    "quantity" (a number that is not a time: "how many units"). ``given_kinds`` gives no "quantity": most passages
    print some number, so it ranks sentences (``gives_quantity``), not passages."""
    kinds = set()
    if ASKS_TIME.search(question):
        kinds.add("time")
    if ASKS_CONTACT.search(question):
        kinds.add("contact")
    if "time" not in kinds and ASKS_QUANTITY.search(question):
        kinds.add("quantity")
    return frozenset(kinds)


def gives_quantity(text: str) -> bool:
    """Whether a text states an amount, a percentage or a count of something ("Up to 50 details")."""
    return bool(QUANTITY_GIVEN.search(text))


def given_kinds(text: str) -> frozenset[str]:
    """The kinds of answer a text gives: a time, a phone number or e-mail."""
    kinds = set()
    if TIME_GIVEN.search(text):
        kinds.add("time")
    if PHONE_RE.search(text) or EMAIL_RE.search(text):
        kinds.add("contact")
    return frozenset(kinds)
