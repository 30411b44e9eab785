"""Whether the sources can answer a question at all, with the reason when they cannot.

Retrieval scores cannot tell "what's the timely filing limit?" from "what's the timely filing limit for
Idaho Smiles?": both find the same passages with the same scores. What differs is something the question
asks for that the sources lack. Each check here names one such thing:

- the kind of answer asked for is missing from the top passages of the question's region: an amount of
  money (asked as "how much", "the $ cutoff", "malpractice limits", "what's the fee schedule"), a length of
  time, a street or mailing address (one region's filing limit does not answer a question about another's);
- a question naming a region (of the plan profile) asks for a time, and the region's passages print times only
  about other things (pages that give days for other duties do not say how often that region recredentials);
- a number of the unit asked for ("how many SNF days per year") is printed only in sentences about other
  things (days to notify the plan of an SNF admission are not covered days);
- a billing code (CPT, HCPCS, ICD-10) or a US state the question names appears in no document;
- the question names something no document mentions and general English hardly knows either: a product,
  vendor or drug name ("ozempic", "availity"). Informal words ("kiddo", "printouts") are common English,
  so they do not count; nor do acronyms, misspellings of corpus words, or people's names;
- the question asks whether something is covered or paid for ("is acupuncture covered?", "does the plan
  reimburse mileage?") and no document names that thing, in any words;
- the question is a request to produce something (a letter, an essay), or about something no provider
  manual covers (a weather forecast, where to eat or park near the clinic), not a question about the manual.

The checks are deliberately narrow: a wrong refusal costs a provider an answer that was there.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.asks import DURATION_GIVEN, DURATION_WORDS, NUMBER_WORD
from assistant.components import ALL_ON, Components
from assistant.contacts import EMAIL_RE, PHONE_RE
from assistant.lexical import STOPWORDS
from assistant.lexicon import LAY_TERMS
from assistant.profile import NEUTRAL, PlanProfile
from assistant.retrieval import GLOSSARY_SECTION, domain_tokens
from assistant.schema import Chunk, Contact
from assistant.sentences import POSTAL_ADDRESS, quotable_sentences
from assistant.vocabulary import Vocabulary, english_zipf

US_STATES = (
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware", "florida",
    "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine",
    "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska",
    "nevada", "new hampshire", "new jersey", "new mexico", "new york", "north carolina", "north dakota", "ohio",
    "oklahoma", "oregon", "pennsylvania", "rhode island", "south carolina", "south dakota", "tennessee", "texas",
    "utah", "vermont", "virginia", "washington", "west virginia", "wisconsin", "wyoming", "puerto rico",
    "district of columbia",
)
_STATE = re.compile(r"\b(" + "|".join(US_STATES) + r")\b", re.IGNORECASE)


def _from_elsewhere(plan_names: Sequence[str]) -> re.Pattern[str]:
    """ "a member from Colorado visiting us" is about this plan's rules for visitors, not Colorado's rules (also
    "from the <plan> Colorado ...")."""
    names = "|".join(re.escape(n) for n in sorted(plan_names, key=len, reverse=True))
    return re.compile(r"\b(from)\s+(?:(?:" + (names + "|" if names else "") + r"the)\s+)?$", re.IGNORECASE)


# a billing code (CPT, HCPCS, CPT category II or III, ICD-10), as typed: "H0005" or "h0005"
_CODE = re.compile(r"(?<![\w$./-])(\d{5}|[A-HJ-NP-Z]\d{4}|\d{4}[FT]|[A-TV-Z]\d{2}\.\d{1,4})(?![\w/-])", re.IGNORECASE)

# an identifier a question names beside what it is: "modifier 66", "the JZ modifier", "region 3", "form 1500",
# "revenue code 0450", "bill type 131", "place of service 02" (the word before or after, the identifier itself)
_IDENTIFIER = re.compile(
    r"\b(?P<label>modifier|mod|region|form|revenue code|rev code|condition code|occurrence code|value code|bill type|"
    r"type of bill|place of service|pos)\s*#?\s*"
    r"(?P<ident>(?-i:[A-Z]{2}|[A-Z]?\d[A-Z\d]?|II|III|IV|VI{0,3}|IX|X)|\d{1,4})(?![\w/-])"
    r"|(?<![\w-])(?P<ident2>(?-i:[A-Z]{2}|[A-Z]?\d[A-Z\d]?)|\d{2})\s+(?P<label2>modifier)\b"
    # a level of care written with its decimal ("ASAM 3.5", "level 3.7")
    r"|\b(?P<label3>asam(?:\s+levels?)?|levels?)\s+(?P<ident3>\d\.\d{1,2})(?![\w.])",
    re.IGNORECASE)


def _identifiers(question: str) -> list[tuple[str, str]]:
    """The identifiers a question names, with the word saying what each is (see ``_IDENTIFIER``), and the billing
    codes it gives."""
    found = [(m.group("label") or m.group("label2") or m.group("label3"),
              m.group("ident") or m.group("ident2") or m.group("ident3")) for m in _IDENTIFIER.finditer(question)]
    return found + [("code", m.group(1)) for m in _CODE.finditer(question)]


_LABELS = {"mod": "modifier", "rev code": "revenue code", "pos": "place of service", "type of bill": "bill type",
           "asam": "level", "asam level": "level", "asam levels": "level", "levels": "level"}
_LABEL_SPELLINGS = {"modifier": r"mod(?:ifier)?s?", "revenue code": r"rev(?:enue)? codes?",
                    "place of service": r"(?:place of service|pos)(?: codes?)?",
                    "bill type": r"(?:bill types?|types? of bill)", "level": r"(?:asam|levels?)"}


def _printed(label: str, ident: str) -> re.Pattern[str]:
    """Where a passage prints the identifier as the same kind of thing: "Modifier 66", "JW and JZ modifiers",
    "Region 3"; a billing code anywhere ("3" of a numbered list is not region 3)."""
    ident_re = rf"(?<![\w.]){re.escape(ident)}(?![\w-])"  # "CMS-1500" prints form 1500
    if label == "code":
        return re.compile(ident_re, re.IGNORECASE)
    name = _LABELS.get(label.lower(), label.lower())
    said = _LABEL_SPELLINGS.get(name, re.escape(name) + "s?")
    # the name within a few words before ("ASAM Levels 3.1, 3.3, and 3.5") or after ("JW and JZ modifiers")
    return re.compile(rf"\b{said}\b.{{0,40}}?{ident_re}|{ident_re}.{{0,25}}?\b{said}\b", re.IGNORECASE)


_MONEY_ASKED = re.compile(
    r"\bhow much\b(?!\s+(time|longer|notice|warning|earlier|later|advance|lead))"
    r"(?=.*\b(pay|paid|payment|reimburs\w*|cost|fee|rate|charge|owe|interest|money|amount|worth|price|dollars?)\b)"
    r"|\bwhat (does|do|will|would) (?!i\b|we\b)(?:[\w-]+\s+){1,2}?(pay|reimburse)\b"
    r"|\b(payment|reimbursement|fee) (rate|amount)s?\b"
    r"|\$\s*(?=[a-z])"  # "the $ cutoff", "how much $"
    r"|\b(dollars?|\$)\s*(amount\s+)?(cut-?off|threshold|limit)s?\b"
    r"|\b(malpractice|liability)\s+((insurance|coverage)\s+)?(limits?|minimums?)\b"
    # "is there an application fee ..., how much is it", "the PMPM dollar amount", "what copay do we collect", "do
    # they pay us interest", "what rate"
    r"|\b(fee|charge|premium)s?\b.{0,80}\bhow much\b"
    r"|\bdollar (amount|figure|value)s?\b|\bwhat (co-?pay\w*|rate|premium)s?\b"
    r"|\b(pay|paid|owe|get)s?\s+(us\s+|you\s+|them\s+|providers?\s+)?interest\b",
    re.IGNORECASE)
# "what's the dental fee schedule": its rates, or at least which schedule applies to what the question names
_FEE_SCHEDULE_ASKED = re.compile(r"\bwhat(?:'s|s| is| are)\s+(?:the\s+|your\s+)?(?:[\w'-]+\s+){0,3}"
                                 r"fee schedules?\b", re.IGNORECASE)
_FEE_SCHEDULE = re.compile(r"\bfee schedules?\b", re.IGNORECASE)
_MONEY_GIVEN = re.compile(r"\$\s?\d|\b\d+(\.\d+)?\s?(%|percent)|\bdollars?\b|\bcents?\b", re.IGNORECASE)

_DURATION_ASKED = re.compile(
    r"\bhow (long|soon|fast|quickly|early|often)\b|\bby when\b|\bwithin how\b"
    rf"|\bhow many (\w+ )?{DURATION_WORDS}\b"
    # "the $ cutoff" and "the dollar cutoff" are amounts, not times
    r"|(?<!\$ )(?<!\$)(?<!dollar )\b(time ?limit|time ?frame|deadline|cut-?off|turn-?around|filing limit)\b"
    rf"|\b(every|within|after|before)\s+\d+\s+(calendar |business |working )?{DURATION_WORDS}\b",
    re.IGNORECASE)

# "how many hours" is answered by a number of hours, not by "within 30 days"
_UNIT_ASKED = re.compile(r"\bhow many (?:(\w+) )?(minute|min|hour|hr|day|week|wk|month|mo|year|yr)s?\b", re.IGNORECASE)
_UNIT_NAMES = {"min": "minute", "hr": "hour", "wk": "week", "mo": "month", "yr": "year"}
def region_tokens(text: str, profile: PlanProfile = NEUTRAL) -> set[str]:
    """The tokens of the region names (of the plan profile) a text uses: they say where, not what (a region's
    programs, its signals, do say what)."""
    return {t for name in profile.region_names(text) for t in domain_tokens(name)}


# Words that say how a question asks ("how many days do we have", "days after the visit", "before they won't pay"),
# not what it is about.
FRAME_WORDS = frozenset(domain_tokens(
    "many much long need needs get gets take takes have has every each per within time limit days hours minutes "
    "weeks months years mins hrs wks mos yrs day hour minute week month year min hr wk mo yr calendar business "
    "working more total extra additional full deadline timeframe notice due before after"))
_UNIT_GIVEN = {unit: re.compile(rf"\b{NUMBER_WORD}[- ]?(\(\d+\)\s*)?(calendar |business |working |full )?{unit}s?\b",
                                re.IGNORECASE)
               for unit in ("minute", "hour", "day", "week", "month", "year")}


# A name: a word no document uses that is also rare in English (Zipf frequency: log10 of uses per billion
# words; "ozempic" and "availity" 0, "keytruda" 1.4, "okays" 1.7, "printouts" 2.3, "okay" 5.6). Set low:
# billing jargon ("recoupment" 1.5, "capitation" 1.7) must not count as a name.
RARE_IN_ENGLISH = 1.0
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
_TITLE_BEFORE = re.compile(r"\b(?:dr|mr|mrs|ms|miss|mx|nurse|doctor)\.?\s+$", re.IGNORECASE)
_SUFFIXES = ("'s", "s", "es", "ed", "d", "ing")


_REQUEST = re.compile(
    r"^\W*(?:(?:can|could|would|will) (?:you|u|ya)\s+)?(?:please\s+)?(?:write|draft|compose|create|generate|make)\s+"
    r"(?:me|us|my|our)?\s*(?:a|an|some)\s+(?!(?:claim|referral|request|report|appeal|authorization)\b)",
    re.IGNORECASE)

# a street address or post-office box asked for (not an e-mail or web address, not how to change one); one given
# is a POSTAL_ADDRESS
_ADDRESS_ASKED = re.compile(r"\b(street|physical|mailing|postal)\s+address\b"
                            r"|\b(what|where)(?:'|’)?s?\s+(is\s+)?the\s+address\b"
                            r"|\baddress (?:of|for) (?:the )", re.IGNORECASE)
_ADDRESS_NOT_ASKED = re.compile(r"\b(e-?mail|web|website|ip)\s+address"
                                r"|\baddress (?:of|for) (?:the )?(?:web|portal|site)"
                                r"|\b(change|changing|changed|update|updating|correct|correcting|new)\b", re.IGNORECASE)


_OFF_TOPIC = re.compile(
    r"\b(weather|forecast)\b"
    r"|\b(best|good|nearest|closest|cheap)\s+(\w+\s+)?(places?|restaurants?|spots?|shops?|stores?|cafes?)\b"
    r".{0,40}\b(near|around|close to|by)\b"
    r"|\bplaces? (to eat|for (lunch|dinner|breakfast))\b"
    # getting around a campus ("the parking lot" of a question about location codes is not asked about)
    r"|\bwhere (?:do|can|should|would|does) (?:[\w-]+ ){0,3}park\b|\bparking (?:is|at|for|near|spaces?|spots?|garage|"
    r"validation|permits?)\b",
    re.IGNORECASE)

# A value asked for about something the question names: (what asks for it, what a sentence giving one prints).
# "the fax number for HMS", "Telligen's help desk hours", "the dollar amount of the dispensing fee", "how long
# does a pt stay in the lock-in program": the passages found print such values, but none about the thing asked.
_EDI_ID = r"(?:payer|payor|submitter|receiver|trading partner)[ -]?(?:id|identifier|identification)(?: number| #| no)?"
_VALUES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "amount": (re.compile(_MONEY_ASKED.pattern + r"|\b(?:what|which) (?:%|percent(?:age)?)\b|\bwhat (?:is|are|'s|s) "
                          r"the (?:\w+ ){0,3}?(?:fee|rate|amount|price|cost)s?\b", re.IGNORECASE), _MONEY_GIVEN),
    "duration": (_DURATION_ASKED, DURATION_GIVEN),
    "fax": (re.compile(r"\bfax (?:number\b|#|no\b)|\b(?:what(?:'s|s| is)?|need) (?:the |their |a )?fax\b",
                       re.IGNORECASE),
            re.compile(r"\bfax\w*\b[^.\n]{0,40}?" + PHONE_RE.pattern, re.IGNORECASE)),
    "phone": (re.compile(r"\b(?:phone|telephone|call(?:-| )?in) (?:number\b|#|no\b)|\bwhat number (?:do|should|can) "
                         r"(?:i|we) call\b", re.IGNORECASE), PHONE_RE),
    # a line for deaf callers: a number printed beside "TTY" or "TDD" (the desk's voice line is not one)
    "tty": (re.compile(r"\b(?:tty|tdd)\b", re.IGNORECASE),
            re.compile(rf"\b(?:tty|tdd)\b[^.\n]{{0,60}}?{PHONE_RE.pattern}|{PHONE_RE.pattern}[^.\n]{{0,30}}?\b(?:tty|tdd)\b",
                       re.IGNORECASE)),
    "email": (re.compile(r"\be-?mail (?:address|addy)\b|\bwhat (?:is|'s|s) (?:the |their )?e-?mail\b",
                         re.IGNORECASE), EMAIL_RE),
    "hours": (re.compile(r"\b(?:hours (?:of operation|open)|business hours|office hours|help ?desk hours|"
                         r"what time do (?:they|you|it) (?:open|close)|(?:open|close)s? at what time)\b"
                         r"|\b\w+(?:'s|s') (?:\w+ ){0,2}hours\b", re.IGNORECASE),
              re.compile(r"\b\d{1,2}(?::\d\d)?\s?(?:a\.?m\.?|p\.?m\.?)|\b(?:monday|mon)\b.{0,15}\b(?:friday|fri)\b|"
                         r"\b24/7\b|\b24 hours a day\b", re.IGNORECASE)),
    # "when is the next PERM audit year": a year printed ("in 2026", "FY 2025"; not the year of a law cited)
    "year": (re.compile(r"\b(?:what|which|next)\s+(?:[\w'-]+\s+){0,4}?year\b", re.IGNORECASE),
             re.compile(r"(?<![\d/.(-])(?:19|20)\d\d(?![\d/.)-])")),  # "(2010)" dates a cited law
    "size": (re.compile(r"\b(?:file|attachment|upload) size\b|\bhow (?:big|large) (?:can|may|is)\b"
                        r"|\b(?:mb|megabytes?)\b", re.IGNORECASE),
             re.compile(r"\b\d+(?:\.\d+)?\s?(?:kb|mb|gb|megabytes?|kilobytes?)\b", re.IGNORECASE)),
    # an electronic-claims identifier, stated as a code right after its name ("payer ID 93221", "submitter ID:
    # SKCO0"); a manual saying "use the payer ID your clearinghouse gives" names one without stating it
    "edi_id": (re.compile(rf"\b{_EDI_ID}\b", re.IGNORECASE),
               re.compile(rf"\b{_EDI_ID}\s*(?:is|of|:|#|-|=|\|)?\s*[(\"“]?(?-i:(?=[A-Z0-9]*\d)[A-Z0-9]{{3,15}})\b",
                          re.IGNORECASE)),
}
VALUE_NAMES = {"count": "number of the things you asked about", "amount": "payment amount or rate",
               "duration": "time limit", "fax": "fax number", "phone": "phone number", "email": "e-mail address",
               "hours": "opening hours", "size": "size limit", "year": "year", "tty": "TTY or TDD number",
               "edi_id": "electronic claims identifier"}

# An insurer other than the deploying plan (generic knowledge of large US payers): the manual answers for its own
# plan, not for another payer's rules. Named in a question and in no document, it is another plan's question.
_PAYER = re.compile(r"\b(blue cross|blue shield|bcbs\w*|anthem|aetna|cigna|humana|united ?health ?care|uhc|optum|"
                    r"molina|centene|ambetter|wellcare|amerigroup|highmark|caresource|carelon|elevance|tricare|"
                    r"health ?net|oscar health|bright health|devoted health|clover health)\b", re.IGNORECASE)
# the payer is what the question asks about ("does aetna require", "aetna's limit", "the limit for aetna"), not
# a member's other coverage ("also has aetna thru work", "aetna is primary")
_PAYER_ASKED_BEFORE = re.compile(r"\b(?:does|do|will|would|can|could|for|under|per)\s+(?:the\s+)?$", re.IGNORECASE)
_PAYER_ASKED_AFTER = re.compile(r"(?:\s+of\s+\w+)?(?:(?:'s|s'|’s)?\s+(?:(?:still|also|even|actually)\s+)?"
                                r"(?:require|need|want|pay|cover|allow|accept|reimburse|deny|denie|limit)"
                                # "blue cross of X, what's their filing limit"
                                r"|\s*[,;-]\s*(?:so\s+)?(?:what(?:'s|s| is| are)?|how \w+(?: is| are| do| does)?)\s+"
                                r"(?:their|its)\b)",
                                re.IGNORECASE)
# a writing task with its object named: "write our appeal letter", "draft an email to the plan"
_WRITE = re.compile(r"\b(?:write|draft|compose)\s+(?:(?:me|us)\s+)?(?:a|an|our|my|the|this|that)\s+(?:[\w-]+\s+){0,3}?"
                    r"(?:letter|e-?mail|essay|memo|poem|story|summary|template|policy|speech|post|review)s?\b",
                    re.IGNORECASE)


# whether something is covered or paid for: "is acupuncture covered", "does the plan reimburse mileage", "criteria for
# covering gender affirming surgery"; the thing asked about is the words after it, up to a clause or preposition
_COVERAGE_ASKED = re.compile(
    r"\b(?:is|are)\s+(?:an?\s+|the\s+)?(?P<subject>[a-z][\w\s'-]{2,40}?)\s+"
    r"(?:covered|reimbursable|payable|a covered (?:benefit|service))\b"
    r"|\b(?:cover|covers|covering|coverage (?:of|for)|reimburse|reimburses|reimbursing|reimbursed for|pay for|pays for)"
    r"\s+(?P<object>[a-z][\w\s'-]{2,60})",
    re.IGNORECASE)
# whether a thing may be used: "can our providers use facetime for telehealth visits"
_USE_ASKED = re.compile(r"\b(?:can|could|may)\s+(?:we|i|you|our\s+[\w-]+|(?:the\s+)?providers?)\s+(?:still\s+|just\s+)?"
                        r"use\s+(?P<object>[a-z][\w\s'-]{2,60})", re.IGNORECASE)
_THING_ENDS = re.compile(r"\s+(?:for|when|if|in|at|under|on|with|by|to|after|before|or|and|that|this|it|them)\b.*$"
                         r"|[?.,;!].*$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Gap:
    """Why the sources cannot answer: a short label for staff and the words a provider reads."""

    # amount | address | duration | code | unfound | program | place | name | coverage | use | request | off_topic |
    # stated
    reason: str
    detail: str

    def explain(self) -> str:
        """Why the sources do not answer, in words that never repeat the question's own: a name, code or thing
        no document mentions may be a member's name or an identifier the screen did not catch."""
        return {
            "amount": "they give no payment amounts or rates for it",
            "address": "they give no street or mailing address for it",
            "duration": (f"the passages on this topic give no number of {self.detail}s for it" if self.detail
                         else "the passages on this topic give no time limit for it"),
            "code": "no document mentions the code you gave",
            "unfound": "the passages on this topic do not mention the code or number you gave",
            "program": "the passages on this topic do not mention the program or organisation you named",
            "place": "they do not cover the state or program you named",
            "name": "no document mentions the name you gave",
            "coverage": "no document mentions the service you asked about, so they cannot say whether it is covered",
            "use": "no document mentions what you asked to use, so they cannot say whether it is allowed",
            "request": "I answer questions about the manual; I do not write letters or other documents",
            "off_topic": "it is not about the plan's rules and procedures for providers",
            "stated": f"the passages on this topic give no {VALUE_NAMES.get(self.detail, 'such value')} for it",
        }[self.reason]


class Answerability:
    """Checks of a question against the whole corpus and against its top passages."""

    def __init__(self, corpus_text: str, evidence_depth: int = 5, *, vocabulary: Vocabulary | None = None,
                 zipf: Callable[[str], float] = english_zipf, common: frozenset[str] = frozenset(),
                 components: Components = ALL_ON, profile: PlanProfile = NEUTRAL,
                 contacts: Sequence[Contact] = (), proper: frozenset[str] | None = None) -> None:
        self.on = components.on
        # the contact directory: a fax number asked for "HMS" may be printed in a passage retrieval did not rank
        self.directory = [(c.kind, set(domain_tokens(f"{c.department or ''} {c.section} {c.context}")))
                          for c in contacts]
        self.profile = profile
        self._from_elsewhere = _from_elsewhere(profile.plan_names)
        self.corpus_lower = corpus_text.lower()
        self.corpus_tokens = frozenset(domain_tokens(corpus_text))
        # tokens so common in the corpus (the plan's name, "member", "provider") that they say nothing of a
        # question's topic
        self.common = common
        # the corpus's words and its spelling correction: the assistant's, or learned from the text
        self.vocabulary = vocabulary or Vocabulary.learn([corpus_text])
        self._sorted_words = sorted(self.vocabulary.words)  # for prefixes: "elig" of "eligibility"
        self.zipf = zipf
        zipf("the")  # loads the word list now (0.4 s), not during the first question that needs it
        self.places_known = {s for s in US_STATES if re.search(rf"\b{s}\b", self.corpus_lower)}
        self.place_tokens = frozenset(t for s in US_STATES for t in domain_tokens(s))
        self.phrases = proper_phrases(corpus_text)
        # the names the corpus prints (``proper_names``; computed here unless given)
        self.proper = (proper_names(corpus_text) if proper is None else proper) - common
        # a question's evidence: the passages an answer would quote from (a two-part question's second
        # part is often in the fourth or fifth)
        self.evidence_depth = evidence_depth

    def gap(self, question: str, query: str, evidence: Sequence[Chunk], region: str | None = None,
            documents: frozenset[str] | None = None, document_names: frozenset[str] = frozenset()) -> Gap | None:
        """The first reason the sources cannot answer ``question`` (``query`` is the question as resolved
        against the conversation; ``evidence`` the retrieved chunks, best first; ``region`` the one the
        question or conversation is about; ``documents`` the ones the question names by ``document_names``, the
        names in it that only those documents print, as the retriever found them), or None."""
        on = self.on
        if on("check_request") and (_REQUEST.search(question) or _WRITE.search(question)):
            return Gap("request", "")
        if on("check_off_topic") and _OFF_TOPIC.search(question):
            return Gap("off_topic", "")
        for m in _CODE.finditer(question) if on("check_code") else ():
            if m.group(1).lower() not in self.corpus_lower:
                return Gap("code", f"code {m.group(1)}")
        for m in _STATE.finditer(question) if on("check_place") else ():
            state = m.group(1).lower()
            if state not in self.places_known and not self._from_elsewhere.search(question[: m.start()]):
                return Gap("place", m.group(1).title())
        for m in _PAYER.finditer(question) if on("check_payer") else ():
            asked_about = _PAYER_ASKED_BEFORE.search(question[: m.start()]) or _PAYER_ASKED_AFTER.match(
                question[m.end():])
            if asked_about and m.group(1).lower() not in self.corpus_lower:
                return Gap("place", m.group(1))
        # the identifiers the question names, each with where a passage prints it as one, read once
        idents = [(f"{label} {ident}", _printed(label, ident)) for label, ident in _identifiers(question)]
        if on("check_identifier"):
            # "what % does each surgeon get with modifier 66", "the phone number for the rep in region 3": passages
            # found that never print the modifier or region answer for another one
            top_text = [f"{' '.join(c.heading_path)} {c.text}" for c in evidence[: self.evidence_depth]]
            for said, at in idents:
                if not any(at.search(t) for t in top_text):
                    return Gap("unfound", said)
        name = self.unknown_name(question) if on("check_name") else None
        if name:
            return Gap("name", name)
        # a glossary defines words; an amount or time limit printed in a definition is not an answer
        top = [c for c in evidence[: self.evidence_depth]
               if (region is None or self.profile.region_of(c) in (None, region))
               and not GLOSSARY_SECTION.search(c.section)]
        money_asked = _MONEY_ASKED.search(query) if on("check_amount") else None
        fee_schedule_asked = _FEE_SCHEDULE_ASKED.search(question) if on("check_amount") else None
        if (money_asked or fee_schedule_asked) and not any(_MONEY_GIVEN.search(c.text) for c in top):
            if money_asked:
                return Gap("amount", "")
            # a fee schedule named for what the question is about ("workers' comp in this state is paid by the
            # state's") answers "what's the fee schedule"; one named for workers' comp does not answer for dental
            if not self.stated_about(_FEE_SCHEDULE.sub(" ", question), _FEE_SCHEDULE, top, fallback=question):
                return Gap("amount", "")
        asks_address = on("check_address") and _ADDRESS_ASKED.search(query) and not _ADDRESS_NOT_ASKED.search(query)
        if asks_address and not any(POSTAL_ADDRESS.search(c.text) for c in top):
            return Gap("address", "")
        timed = on("check_duration")
        if timed and _DURATION_ASKED.search(query):
            if not any(DURATION_GIVEN.search(c.text) for c in top):
                return Gap("duration", "")
            # "does the <region> side make us recredential every 36 months too?": the region's passages print
            # times, but none about recredentialing (another region's 36 months does not answer for this one)
            if region_tokens(question, self.profile) and not self.stated_about(question, DURATION_GIVEN, top):
                return Gap("duration", "")
        unit = _UNIT_ASKED.search(query) if timed else None
        if unit:
            asked = _UNIT_NAMES.get(unit.group(2).lower(), unit.group(2).lower())
            if not any(_UNIT_GIVEN[asked].search(c.text) for c in top):
                return Gap("duration", asked)
        own_unit = _UNIT_ASKED.search(question) if timed else None
        if own_unit:
            # "how many SNF days per year": a number of days printed somewhere in the passages is not enough;
            # a sentence giving one must be about something the question names
            asked = _UNIT_NAMES.get(own_unit.group(2).lower(), own_unit.group(2).lower())
            # a word on the unit ("SNF days", "CME hours") names exactly what is counted
            if not self.stated_about(own_unit.group(1) or question, _UNIT_GIVEN[asked], top, fallback=question):
                return Gap("duration", asked)
        counted = _COUNT_ASKED.search(question) if on("check_count") and not own_unit else None
        if counted and not self._counted(counted.group("noun"), top):
            return Gap("stated", "count")
        if on("check_program") and any(asked.search(question) for asked, _ in _VALUES.values()):
            # "the timely filing limit for <the dental program>": the passages found give a limit, but none of them
            # names the program the documents print elsewhere, so the limit is someone else's
            program = self.unseen_program(question, top)
            if program:
                return Gap("program", program)
        if on("check_stated"):
            # the focus of the question as resolved ("how long does it take" carries its topic from the turn
            # before), in the words some document uses ("usually" is how a provider asks, not what about)
            whole = self.focus(query) & self.corpus_tokens
            focus = (self.focus(_main_clause(query)) & self.corpus_tokens) or whole
            for kind, (asked_pattern, given) in _VALUES.items():
                if not asked_pattern.search(question) or not focus:
                    continue
                # a desk's number asked for by the name of the organisation ("the fax number for HMS"): another
                # desk's number printed beside the question's other words does not answer it
                named = focus - _VALUE_WORDS  # "fax" in "the fax number for X" names the value, not what about
                stated_in = top
                if kind not in _CONTACT_KINDS and documents is not None and whole & document_names:
                    # "the filing limit for claims in <a system one manual names>": the name says which documents;
                    # their passages need not repeat it, but it must be theirs that state the value (a desk's
                    # number asked for by its name must still be printed beside that name)
                    named -= document_names
                    stated_in = [c for c in top if c.doc_id in documents]
                about = self.organisations(question, named) if kind in _CONTACT_KINDS else set()
                about = about or named
                if idents:
                    # "what % does idaho pay for modifier 66": a rate printed for modifier 62 is another's; the
                    # sentence stating the value, or the headings above it, must print the identifier asked about
                    stated = any(states(given, x)
                                 and any(at.search(f"{' '.join(c.heading_path)} {x}") for _, at in idents)
                                 for c in stated_in for x in quotable_sentences(c.text))
                elif about or stated_in is top:
                    stated = self._stated(about, given, stated_in)  # True when there is nothing to look for
                else:  # only the name was asked about: any value those documents' passages state
                    stated = any(states(given, x) for c in stated_in for x in quotable_sentences(c.text))
                if not stated and not any(k == kind and _shares(about, words) for k, words in self.directory):
                    return Gap("stated", kind)
        # after the amount: "how much does the plan pay for X" asks for money
        thing = self.unknown_service(question) if on("check_coverage") else None
        if thing:
            return Gap("coverage", thing)
        tool = self.unknown_service(question, _USE_ASKED) if on("check_coverage") else None
        if tool:
            return Gap("use", tool)
        return None

    def _counted(self, noun: str, evidence: Sequence[Chunk]) -> bool:
        """Whether a sentence of the evidence prints a number of ``noun`` ("three (3) units", "six-line items",
        "30 clients" for patients: people are counted under any of the words manuals use for them)."""
        words = set(domain_tokens(self.vocabulary.expand(noun, phrases=False))) | set(domain_tokens(noun))
        if words & _PEOPLE:
            words |= _PEOPLE
        for chunk in evidence:
            for sentence in quotable_sentences(chunk.text):
                for m in _NUMBER_THEN.finditer(sentence):
                    if set(domain_tokens(m.group("after"))) & words:
                        return True
        return False

    def organisations(self, question: str, focus: set[str]) -> set[str]:
        """The ``focus`` tokens that name an organisation, program or system in the question's own words (not an
        earlier turn's): words the documents capitalise, that English uses little ("Noridian", "Liberty", not
        "July"), of four letters or more unless written in capitals ("HMS"; "pls" is please)."""
        own = {t: w.split("'")[0] for w in _WORD.findall(question) for t in domain_tokens(w)}  # token -> word
        return {t for t in focus & self.proper & own.keys() if self.zipf(own[t].lower()) < EVERYDAY_NAME
                and (len(t) > 3 or own[t].isupper())}

    def unseen_program(self, question: str, evidence: Sequence[Chunk]) -> str | None:
        """A name of several capitalised words the corpus prints (a program, an organisation: "Healthy
        Connections", "Idaho Smiles") that the question uses whole, in any case, and no passage of the evidence
        names (its words other than a state's or the corpus's commonest)."""
        words = [w.lower() for w in _WORD.findall(question)]
        named = [" ".join(words[i:i + n]) for n in (2, 3, 4) for i in range(len(words) - n + 1)
                 if " ".join(words[i:i + n]) in self.phrases]
        if not named:
            return None
        seen: set[str] = set()
        for c in evidence:
            seen |= set(domain_tokens(" ".join(c.heading_path))) | set(domain_tokens(c.text))
        for phrase in named:
            own = set(domain_tokens(phrase)) - self.common - self.place_tokens
            if own and not all(_shares({w}, seen) for w in own):
                return phrase
        return None

    def unknown_service(self, question: str, asked: re.Pattern[str] = _COVERAGE_ASKED) -> str | None:
        """What a question asks to be covered or paid for ("is acupuncture covered?"), or ``asked`` about, when a
        word of it is in no document: the sources cannot say whether a thing they never name is covered. Common
        English words count too ("mileage"), unlike unknown_name's; only the words of the thing asked about are
        looked at."""
        m = asked.search(question)
        if not m:
            return None
        thing = _THING_ENDS.sub("", m.groupdict().get("subject") or m.group("object") or "").strip()
        words = [w for w in (w.split("'")[0] for w in _WORD.findall(thing.lower()))  # "pt's" is the pt's
                 if len(w) >= 4 and w not in STOPWORDS and w not in LAY_TERMS]
        return thing if any(not self._known(w) for w in words[:4]) else None

    def focus(self, question: str) -> set[str]:
        """What a question is about, as tokens: its words, their spellings corrected, abbreviations spelled out
        and lay words in the manual's terms; without the words of its frame ("how many days"), of a region's
        names and those most passages use."""
        words = self.vocabulary.expand(question, phrases=False)
        places = region_tokens(words, self.profile)
        return {t for t in domain_tokens(words) if len(t) > 2 and t not in STOPWORDS and t not in FRAME_WORDS
                and t not in self.common and t not in places}

    def stated_about(self, question: str, given: re.Pattern[str], evidence: Sequence[Chunk],
                     fallback: str = "") -> bool:
        """Whether a sentence of the evidence matches ``given`` and shares a focus word of ``question`` (in the
        sentence or in the headings above it); ``fallback`` is looked for when ``question`` has no focus. True
        when neither names anything to look for."""
        focus = self.focus(question) or (self.focus(fallback) if fallback else set())
        return self._stated(focus, given, evidence)

    def _stated(self, focus: set[str], given: re.Pattern[str], evidence: Sequence[Chunk]) -> bool:
        if not focus:
            return True
        for chunk in evidence:
            headings = set(domain_tokens(" ".join(chunk.heading_path)))
            for sentence in quotable_sentences(chunk.text):
                if states(given, sentence) and _shares(focus, headings | set(domain_tokens(sentence))):
                    return True
        return False

    def unknown_name(self, question: str) -> str | None:
        """The first word of the question that no document uses and English hardly knows, if any."""
        words = list(_WORD.finditer(question))
        for i, m in enumerate(words):
            word = m.group()
            w = word.lower()
            if len(w) < 4 or w in STOPWORDS or word.isupper() or self._known(w):
                continue  # short words and acronyms (an acronym may be another name for a corpus term)
            if _person_name(question, words, i):
                continue
            if max(self.zipf(v) for v in _variants(w)) < RARE_IN_ENGLISH and not self._compound(w):
                return w
        return None

    def _known(self, w: str) -> bool:
        """In the corpus (or a plural, past tense or shorthand of a corpus word), or a corpus word misspelled."""
        if any(v in self.vocabulary.words or v in LAY_TERMS for v in _variants(w)):
            return True
        at = bisect.bisect_left(self._sorted_words, w)
        if at < len(self._sorted_words) and self._sorted_words[at].startswith(w):
            return True
        return self.vocabulary.correct(w) != w or self._contracted(w)

    def _contracted(self, w: str) -> bool:
        """Office shorthand of a corpus word, written by dropping letters ("outpt" of "outpatient", "mgmt" of
        "management"): the same first three letters, then the rest in order, in a word half again as long."""
        if not 4 <= len(w) <= 6:
            return False
        at = bisect.bisect_left(self._sorted_words, w[:3])
        while at < len(self._sorted_words) and self._sorted_words[at].startswith(w[:3]):
            word = self._sorted_words[at]
            rest = iter(word[3:])
            if len(word) >= 1.5 * len(w) and all(c in rest for c in w[3:]):
                return True
            at += 1
        return False

    def _compound(self, w: str) -> bool:
        """Two known words of four letters or more run together ("giftcards", "bloodwork"); shorter parts make
        a name look like one ("ava" and "ility", a fragment of a word the PDF broke across lines)."""
        return any(self._common(w[:i]) and self._common(w[i:]) for i in range(4, len(w) - 3))

    def _common(self, part: str) -> bool:
        return any(v in self.vocabulary.words for v in _variants(part)) or self.zipf(part) >= 3.0


# "how many take home methadone doses can a client get": a number of the thing counted (the first plural after
# "how many"), which no number of other things answers ("30 clients", "every 90 days"); times, ways and units of
# time are asked elsewhere or answered in other words ("how many times" by "three attempts")
_COUNT_ASKED = re.compile(
    r"\bhow many\s+(?!(?:times?|ways?|more|of|do|does|did|can|could|will|would|should|are|is|have|has|must|may|we|i|"
    r"you|they|he|she|it)\b)(?:[a-z][\w'-]*\s+){0,3}?(?P<noun>(?!(?:does|this|plus|less|unless|was|has|yes)\b)"
    r"[a-z][\w-]*[^\Ws]s)\b", re.IGNORECASE)
_PEOPLE = frozenset(domain_tokens("patient patients pt pts member members client clients participant participants "
                                  "recipient recipients individual individuals person persons people beneficiary "
                                  "beneficiaries enrollee enrollees consumer consumers"))
# a number and the few words after it: "three (3) units", "six-line items", "200 points per year"
_NUMBER_THEN = re.compile(rf"\b{NUMBER_WORD}[- ]?(?:\(\d+\)\s*)?(?P<after>(?:[\w-]+\s+){{0,3}}[\w-]+)", re.IGNORECASE)
# a condition after what is asked: "how many days do we have to file an appeal if the plan denies an auth" asks about
# filing an appeal; a time printed about authorizations does not answer it
_ASK = re.compile(r"\b(?:how|what|whats|which|who|whos|where|when)\b", re.IGNORECASE)
# ("hear if the pt qualifies" is whether, not a condition)
_TRAILING_CONDITION = re.compile(r"(?<!\bhear)(?<!\bknow)(?<!\bsee)(?<!\bcheck)(?<!\bask)(?<!\btell)(?<!\bout)"
                                 r"(?<!\bsure)(?<!\bverify)(?<!\bconfirm)(?<!\bdetermine)(?<!\bdecide)(?<!\bwonder)(?<!\bwondering)"
                                 r"[,\s]+\b(?:if|once|unless|in case)\b[^?.!;]*", re.IGNORECASE)


def _main_clause(question: str) -> str:
    """The question without a condition that follows what it asks."""
    ask = _ASK.search(question)
    if not ask:
        return question
    return question[: ask.end()] + _TRAILING_CONDITION.sub(" ", question[ask.end():])


def proper_phrases(text: str, share: float = 0.9, least: int = 2) -> frozenset[str]:
    """The names of two to four words a text writes with capitals in at least ``share`` of the places it uses them,
    and at least ``least`` times, in lower case: programs and organisations ("Healthy Connections"), not a heading's
    words ("What Medicaid Pays") that its sentences also use."""
    words = _PLAIN_WORD.findall(_CLAUSE_END.sub(" | ", text))  # a name does not run across a full stop or colon
    lower = [w.lower() for w in words]
    capital = [w[0].isupper() for w in words]
    # nor begin or end with a small word ("Claims For", "The Investigation")
    spans = [(i, n) for n in (2, 3, 4) for i in range(len(words) - n + 1)
             if "|" not in words[i:i + n] and lower[i] not in STOPWORDS and lower[i + n - 1] not in STOPWORDS]
    written = Counter(" ".join(lower[i:i + n]) for i, n in spans if all(capital[i:i + n]))
    candidates = {p for p, k in written.items() if k >= least}
    used = Counter(p for p in (" ".join(lower[i:i + n]) for i, n in spans) if p in candidates)
    return frozenset(p for p in candidates if written[p] >= share * used[p])


_PLAIN_WORD = re.compile(r"[A-Za-z]+|\|")
_CLAUSE_END = re.compile(r"[.!?:;()\[\]|]+(?:\s|$)|[()|]")
_CONTACT_KINDS = frozenset(("phone", "tty", "fax", "email", "hours"))
# a capitalised word this common in English is a month, a day or a title ("July" 5.2, "Department" 5.2), not an
# organisation's name ("Liberty" 4.3, "Medicare" 3.9, "Noridian" 0)
EVERYDAY_NAME = 4.5
_VALUE_WORDS = frozenset(domain_tokens("fax phone telephone number e-mail email address hours amount amounts dollar "
                                       "dollars"))
# a word not at the start of a sentence, nor inside an e-mail or web address ("@telligen.com"); a line of a PDF
# may begin one (a table row naming a desk), and mostly continues a sentence wrapped there
_CASED_WORD = re.compile(r"(?<![.!?]\s)(?<![\w'’@./-])([A-Za-z][A-Za-z'’-]{2,})(?![\w@]|\.\w)", re.MULTILINE)


def proper_names(text: str, share: float = 0.9, least: int = 2) -> frozenset[str]:
    """The tokens of the words a text writes with a capital (or all in capitals) in at least ``share`` of the
    places a sentence does not begin, and at least ``least`` times: organisations, programs and systems
    ("Noridian", "HMS", "CareNet"), not words a heading or a sentence's start capitalises now and then."""
    upper: dict[str, int] = {}
    total: dict[str, int] = {}
    for word, n in Counter(m.group(1) for m in _CASED_WORD.finditer(text)).items():
        for token in domain_tokens(word):
            total[token] = total.get(token, 0) + n
            if word[0].isupper():
                upper[token] = upper.get(token, 0) + n
    return frozenset(t for t, n in upper.items() if n >= least and n >= share * total[t] and t not in STOPWORDS)


# a web address: "%20" in one is an encoded space, not a percentage, and its digits are no amount or time
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def states(given: re.Pattern[str], sentence: str) -> bool:
    """Whether a sentence states a value of the kind ``given`` matches, outside any web address it prints."""
    return bool(given.search(_URL.sub(" ", sentence)))


def _shares(focus: set[str], tokens: set[str]) -> bool:
    """A token in common, counting two of five letters or more where one begins the other ("refugee" and
    "refuge", the light stemmer's form of "refugees")."""
    if focus & tokens:
        return True
    long_focus = [f for f in focus if len(f) >= 5]
    return any(len(t) >= 5 and (t.startswith(f) or f.startswith(t)) for t in tokens for f in long_focus)


def _person_name(question: str, words: Sequence[re.Match[str]], i: int) -> bool:
    """Whether the i-th word is a person's name: capitalised, after a title ("Dr. Okonkwo") or beside
    another capitalised word ("Maria Gonzalez")."""
    m = words[i]
    if not m.group()[0].isupper():
        return False
    if _TITLE_BEFORE.search(question[: m.start()]):
        return True
    pairs = [(words[i - 1], m)] if i > 0 else []
    pairs += [(m, words[i + 1])] if i + 1 < len(words) else []
    return any(b.group()[0].isupper() and not question[a.end():b.start()].strip() for a, b in pairs)


def _variants(w: str) -> list[str]:
    """The word and what it is without a plural, possessive or verb ending."""
    return [w] + [w[: -len(s)] for s in _SUFFIXES if w.endswith(s) and len(w) - len(s) >= 3]
