"""Finding phone numbers and e-mail addresses in text, exactly as printed, with their purpose."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PHONE_RE = re.compile(
    r"(?<![\w-])(?:\+?1[-.\s])?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}"
    r"(?:,?\s?(?:ext\.?|x)\s?\d{1,5})?(?![\w-])",
    re.IGNORECASE,
)
EMAIL_RE = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_FAX_BEFORE = re.compile(r"\bfax(?:ed|ing)?\b[^.\n\d]{0,20}$", re.IGNORECASE)
DEPARTMENT_WORDS = (r"(?:Department|Unit|Line|Team|Office|Desk|Services|Service|Center|Centre|Liaison|Support|"
                     r"Coordinator|Hotline|Relations|Management|Administration|Programs?)")
# Greedy: the longest run of capitalised words that ends in department words.
_DEPARTMENT_RE = re.compile(
    rf"(?<![\w@.-])((?:[A-Z][\w&'/-]*\s+(?:(?:and|of|for|&)\s+(?=[A-Z]))?){{0,6}}{DEPARTMENT_WORDS}"
    rf"(?:\s+{DEPARTMENT_WORDS})*)\b"
)
_LEADING_NOISE = {"the", "our", "your", "to", "or", "and", "for", "through", "via"}
_INSTRUCTION_WORDS = {"call", "contact", "email", "e-mail", "phone", "please", "send", "reach", "fax", "tell", "notify",
                      "write", "ask", "inform", "alert"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])|\n")


@dataclass(frozen=True)
class ContactMention:
    """One occurrence of a contact in a text."""

    value: str
    kind: str  # phone | fax | email
    context: str
    department: str | None
    start: int


def normalize_contact(value: str) -> str:
    """A comparison key: digits for phone numbers (without a leading country 1), lower case for e-mail."""
    if "@" in value:
        return value.strip().lower()
    digits = re.sub(r"\D", "", value.split("x")[0].split("ext")[0])
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def find_contacts(text: str) -> list[ContactMention]:
    """Every phone number and e-mail address in ``text`` with the sentence or row around it."""
    found: list[ContactMention] = []
    for match in EMAIL_RE.finditer(text):
        found.append(_mention(text, match.start(), match.end(), "email"))
    for match in PHONE_RE.finditer(text):
        kind = "fax" if _FAX_BEFORE.search(text[max(0, match.start() - 30):match.start()]) else "phone"
        found.append(_mention(text, match.start(), match.end(), kind))
    return sorted(found, key=lambda m: m.start)


def _mention(text: str, start: int, end: int, kind: str) -> ContactMention:
    context = sentence_around(text, start, end)
    before = context[: context.find(text[start:end])] if text[start:end] in context else context
    return ContactMention(text[start:end], kind, context, guess_department(before), start)


def sentence_around(text: str, start: int, end: int, limit: int = 320) -> str:
    """The sentence (or table row / line) holding text[start:end], trimmed to ``limit`` characters."""
    left = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        left = m.end()
    after = _SENTENCE_END.search(text, end)
    right = after.start() if after else len(text)
    sentence = " ".join(text[left:right].split())
    if len(sentence) <= limit:
        return sentence
    value = text[start:end]
    at = sentence.find(value)
    lo = max(0, at - limit // 2)
    return sentence[lo:lo + limit].strip()


# "send the form to the ECM and Community Supports referral team at", "call Provider Appeals at",
# "should go to the SIU at": whom a contact reaches, named right before "at"
_AT_END = re.compile(r"\s+at\s*$")
_NAME_STARTS_AFTER = {"to", "contact", "call", "reach", "email", "e-mail", "tell", "notify", "ask", "phone", "write"}
_DESK_WORD = re.compile(r"^(?:team|desk|unit|line|office|department|liaison|coordinator|hotline|center|centre)$")
_CONNECTIVES = {"and", "of", "for", "&"}
_VAGUE_NAMES = frozenset({"us", "we", "them", "him", "her"})


def named_at(before: str, plan_names: frozenset[str] = frozenset()) -> str | None:
    """The name printed right before "at <contact>" after a verb or "to" ("Contact the JIL at", "send it to
    Provider Appeals at"): capitalised words, lower-case ones between them, ending in a capitalised word or
    a desk word ("referral team", "help desk"). None when the words there are not such a name, or only the
    plan's own (``plan_names``, lower case: "call Acme at" names no desk)."""
    end = _AT_END.search(before)
    if not end:
        return None
    words = before[: end.start()].split()
    name: list[str] = []
    for word in reversed(words[-10:]):
        if word.lower() in _NAME_STARTS_AFTER:
            break
        name.insert(0, word)
    else:
        return None  # no verb or "to" before it: a longer clause, not a name
    if name and name[0].lower() == "the":
        name.pop(0)
    if not 1 <= len(name) <= 8 or not name[0][:1].isupper() or any(re.search(r"[\d,;:()]", w) for w in name):
        return None
    last = name[-1]
    if not (last[:1].isupper() or _DESK_WORD.match(last.lower())) or name[-1].lower() in _CONNECTIVES:
        return None
    text = " ".join(name)
    return None if text.lower() in _VAGUE_NAMES or text.lower() in plan_names else text


def guess_department(before: str, plan_names: frozenset[str] = frozenset()) -> str | None:
    """The name printed right before "at <contact>", or else the last department-like name ("Provider
    Relations Department") before a contact, if any."""
    at = named_at(before, plan_names)
    if at:
        return at
    names = []
    for m in _DEPARTMENT_RE.finditer(before):
        words = m.group(1).split()
        # "Tell Provider Contracting and Relations", "Please call Member Services": the name starts after
        # the last instruction word
        cut = max((i + 1 for i, w in enumerate(words) if w.lower() in _INSTRUCTION_WORDS), default=0)
        words = words[cut:]
        while words and words[0].lower() in _LEADING_NOISE:
            words.pop(0)
        if words:
            names.append(" ".join(words))
    return names[-1] if names else None


def unique_mentions(mentions: Iterable[ContactMention]) -> list[ContactMention]:
    """Drop repeats of the same contact in the same context (overlapping chunks repeat text)."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for m in mentions:
        key = (normalize_contact(m.value), m.context)
        if key not in seen:
            seen.add(key)
            kept.append(m)
    return kept
