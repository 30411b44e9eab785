"""What a question carries besides its question: member identifiers, instructions aimed at the
assistant, and signs of an urgent situation. Pure functions over the text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.phi import PhiScreen

DEFAULT_SCREEN = PhiScreen()

_INJECTION = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+|previous\s+|prior\s+|above\s+)*"
    r"(instructions|rules|prompt|guidelines|sources|manual)"
    r"|\b(system|developer|assistant)\s*(prompt|message)?\s*:"
    r"|\byou are now\b|\bpretend (to be|you are)\b|\bact as\b|\brole-?play\b"
    r"|\b(reply|respond|answer|say)\s+(only|just)\b"
    r"|\b(reply|respond|answer)\b[^.?!]{0,40}\bonly\s+(with|in)\b"
    r"|\bfrom now on\b[^.?!]{0,40}\b(respond|reply|answer|say|output)\b"
    r"|\b(print|reveal|show|repeat)\s+(your|the)\s+(hidden\s+|system\s+|secret\s+)*(prompt|instructions)"
    r"|\bnew (policy|rule|instructions?)\b\s*[:,-]"
    r"|\b(tell|inform) (them|everyone|the provider|providers|people)\b.{0,40}\b(is|are)\b",
    re.IGNORECASE,
)
_URGENT_STRONG = re.compile(
    r"\bseriously (harmed|hurt|injured)|\bserious (harm|injury)|\bpermanent(ly)? harm"
    r"|\b(unexpected(ly)?|sudden)\s+(death|died)|\b(patient|member|pt|mbr)\s+(died|passed away)|\bdied\b"
    r"|\bwrong[- ](site|side|patient|procedure|knee|leg|arm|eye|hip|limb|blood|drug|medication|dose|baby|infant)"
    r"|\bretained (instrument|sponge|object)|\b(sponge|instrument|clamp)\b.{0,30}\b(left|inside|retained)"
    r"|\bsuicid\w*|\bhang(ed)? (himself|herself|themself|themselves)|\bself[- ]harm|\boverdos\w*"
    r"|\b(abduct|elope)\w*|\bwalked out\b|\bwander(ed)? (off|away|out)|\bassault\w*|\babuse[d]?\b"
    r"|\btransfus\w*.{0,40}\b(wrong|reaction|incompatib)|\b\d+x the\b|\bten times the\b",
    re.IGNORECASE,
)
_HARM = re.compile(r"\b(fell|fall|falls|broke|broken|fractur\w*|injur\w*|hurt|harm\w*|icu|intensive care|"
                   r"burn(ed|s)?|bleeding|unresponsive|code blue|medication error)\b(?! (under|within|into))",
                   re.IGNORECASE)
_CARE_SETTING = re.compile(r"\b(our|the) (facility|hospital|clinic|office|unit|snf|floor|hallway|ward|or|er|"
                           r"ed|nursing home|care|staff|surgeon|nurse)\b|\bnurse gave\b|\bwhile (in|under) (our|"
                           r"the) care\b|\bat our\b|\bin our\b|\bduring (surgery|the procedure|a procedure)\b",
                           re.IGNORECASE)


def is_urgent(text: str) -> bool:
    """A member harmed (or nearly harmed) in care: a sentinel or adverse event with a notification duty."""
    if _URGENT_STRONG.search(text) or (_HARM.search(text) and _CARE_SETTING.search(text)):
        return True
    # "before we tell KP about a sentinel event": the duty itself, not a request for the policy document
    return bool(re.search(r"\bsentinel\b", text, re.I) and re.search(r"\b(tell|notify|report|inform)\b", text, re.I)
                and not re.search(r"\b(policy|copy|count|definition|written|recredential)", text, re.I))


@dataclass(frozen=True)
class Screened:
    """A question after screening: the identifiers found, the text safe to store and search, flags."""

    original: str
    redacted: str
    phi: tuple[str, ...]
    injection: bool
    question: str  # what to answer: injected instructions removed, identifiers redacted
    urgent: bool


def find_phi(text: str, phi: PhiScreen | None = None) -> list[tuple[str, str]]:
    """(kind, value) of every member identifier in the text."""
    return [(f.kind, f.value) for f in (phi or DEFAULT_SCREEN).find(text)]


def redact(text: str, phi: PhiScreen | None = None) -> str:
    """The text with every member identifier replaced by a neutral marker."""
    return (phi or DEFAULT_SCREEN).redact(text)[0]


def strip_injection(text: str) -> tuple[str, bool]:
    """The text without sentences that try to instruct the assistant, and whether there were any."""
    without_comments = re.sub(r"<!--.*?-->|\[\[.*?\]\]|\{\{.*?\}\}", " ", text, flags=re.DOTALL)
    hidden = without_comments != text
    text = without_comments
    sentences = re.split(r"(?<=[.!?\n])\s+|\s+(?=(?:ignore|disregard|system:|new policy|then tell)\b)", text,
                         flags=re.IGNORECASE)
    kept = [s for s in sentences if s and not _INJECTION.search(s)]
    return " ".join(kept).strip(), hidden or len(kept) != len([s for s in sentences if s])


def screen(text: str, phi: PhiScreen | None = None) -> Screened:
    """Find member data, injected instructions and urgency in a question. ``phi`` knows the sources' words and
    printed contacts (the service passes its own); without it the screen assumes nothing about the plan."""
    redacted, found = (phi or DEFAULT_SCREEN).redact(text)
    question, injected = strip_injection(redacted)
    return Screened(text, redacted, tuple(dict.fromkeys(f.value for f in found)), injected, question,
                    is_urgent(text))
