"""Member identifiers in free text: names, dates of birth, SSNs, member and Medicare ids, member phone numbers,
e-mail addresses and street addresses. Pure functions over the text, plus what the sources print.

Every free-text field the service stores or logs passes :meth:`PhiScreen.find` first. The rules lean towards
redacting (a lost word costs less than a stored identifier) except where the text itself or the sources say a
value is the plan's own: a number or address the documents print, a toll-free line, a department mailbox, a
policy date. Measured on tests/data (benchmarks/phi_detectors.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from wordfreq import zipf_frequency

MASK = "[redacted]"

# ---------------------------------------------------------------- word lists (general, no plan's own)

# Words that may stand before a member's name ("pt Smith", "Mrs. Alvarez", "her name is ...").
_DESIGNATORS = (r"patient|pt|pts|member|mbr|mem|client|resident|enrollee|beneficiary|recipient|subscriber|insured|"
                r"participant|consumer|child|kid|kiddo|infant|baby|baby boy|baby girl|newborn|twins?|son|daughter|"
                r"mom|mother|dad|father|husband|wife|spouse|guardian|mr|mrs|ms|miss|mx|named|name|name is|name's|"
                r"names|last name|first name|surname|maiden name|try|searched|search for|look up|lookup")
_DESIGNATOR_WORDS = frozenset(w.rstrip("?") for w in _DESIGNATORS.replace("twins?", "twin|twins").split("|")
                               if " " not in w and "'" not in w)
# a designator right before a run of name words ("pt ", "Mrs. ", "member: ", "name is ", "the son, ")
_DESIGNATED = re.compile(rf"(?<![\w-])({_DESIGNATORS})\b\.?\s*(?:[:#,-]\s*)?$", re.IGNORECASE)
_APPOSITIVE = re.compile(rf"(?<![\w-])({_DESIGNATORS}),\s+((?-i:[A-Z][a-z]+(?:\s+[A-Z][a-z'’-]+)+)),", re.IGNORECASE)
_LAST_THEN_FIRST = re.compile(r"\blast name\b.{1,40}\bfirst(?: name)?\s*[:,-]?\s*$", re.IGNORECASE)
_HONORIFIC = re.compile(r"^(?:mr|mrs|ms|miss|mx)$", re.IGNORECASE)
# Words that may stand before a provider's or staff name: theirs is not member data.
_PROVIDER_TITLE = re.compile(r"\b(?:dr|doctor|prof|nurse|np|pa|rn|md|do)\.?\s*$", re.IGNORECASE)
# Healthcare-office words that look like names to a frequency list (rare in everyday English), and payers'
# and programs' names that look like people's ("Molina", "Aetna"). The deploying plan's own names are in its
# documents, which the screen knows (PhiScreen.from_sources).
def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


_OFFICE_WORDS = _word_set("""
auth auths authorization authorizations preauth precert referral referrals eligibility eligible claim claims
copay copays coinsurance deductible premium premiums portal pcp pcps derm ob obgyn gyn peds cardio ortho psych
dme snf ltc ltss hcbs ecm epsdt cob tpl edi era eft npi tin ein cpt hcpcs icd drg ndc mri ct pet ekg ecg
medicaid medicare tricare chip ohp cms hhs dhw mdhhs pihp cmh sud suds mat moud opioid
methadone suboxone buprenorphine naloxone narcan vivitrol detox rehab telehealth telemedicine credentialing
recredentialing termed retro retroactive capitation capitated remittance adjudicated denial denials denied
appeal appeals grievance grievances formulary pharmacy rx prior timely filing modifier modifiers bundled
molina centene humana aetna cigna anthem optum evolent availity carelon magellan wellcare
ambetter amerigroup highmark elevance medica healthnet caresource meridian priority mclaren aspirus
bcbs bcbsm hap hmo ppo epo pos fqhc rhc ihs ccbhc hipaa phi
""")
# prepositions that are also given names ("Per", "Via"): not names where the question capitalises nothing
_PREPOSITIONS = _word_set("""per via vs versus within without upon onto toward towards through during until since
against among across along around behind below beside besides beyond despite except inside outside near off out up
down""")
_COMMON_SHAPES = _word_set("""
the a an and or but of for to in on at by with from about into over under after before between is are was were
be been being am do does did done has have had having can could will would shall should may might must not no
yes if then than so as that this these those there here what which who whom whose when where why how all any
each every some such own same other another more most less least very just only also too again still even
our ours we us my me mine i you your yours he him his she her hers they them their theirs it its
please thanks thank hi hello hey ok okay re fyi asap pls thx need needs needed get gets got want wants
cant wont dont didnt isnt doesnt hasnt havent wasnt werent arent couldnt shouldnt wouldnt theres thats whats
im ive id hes shes theyre youre were lets
dob dos mrn hrn ssn mbi hicn cin npi tin ein ph tel cell email fax phone addr address age yo acct account
""")
_STREET = (r"street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|way|court|ct|place|pl|terrace|ter|"
           r"parkway|pkwy|highway|hwy|circle|cir|loop|trail|trl|square|sq|pike|row|alley|aly|concourse|plaza|plz|"
           r"crescent|cres|walk|path|point|pt|ridge|heights|hts|expressway|expy|freeway|fwy|turnpike|tpke|route|"
           r"rte|run|crossing|xing|commons|green|grove|hollow|landing|meadows?|park|pass|spur|view|vista")
_STREET_PREFIX = r"calle|avenida|ave\.?|camino|carretera|paseo|via|rue|route|rte|state route|highway|hwy|county road"
_MONTHS = ("jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
           "oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_WEBMAIL = re.compile(r"@(?:gmail|googlemail|yahoo|ymail|hotmail|outlook|live|msn|aol|icloud|me|mac|comcast|"
                      r"att|sbcglobal|verizon|charter|cox|earthlink|protonmail|proton|gmx|mail|zoho|yandex|"
                      r"frontier|windstream|centurylink|bellsouth|rocketmail)\.", re.IGNORECASE)
_ROLE_MAILBOX = re.compile(
    r"^(?:[a-z0-9]+[._-])*(?:payments?|cob|liaison|hotline|intake|access|prop\w*|claims?|provider|providers|"
    r"relations|credentialing|appeals?|grievances?|info|support|"
    r"help|helpdesk|enrollment|billing|auth|authorizations?|referrals?|services|contact|admin|edi|um|pharmacy|"
    r"customer|service|network|contracting|compliance|privacy|quality|cm|care|programs?|team|office|inbox|"
    r"noreply|no-reply|webmaster|hotline|reports?|submissions?|records|eligibility|benefits|medicaid|medicare)"
    r"(?:[._-][a-z0-9]+)*$", re.IGNORECASE)
_MEMBER_CONTEXT = re.compile(
    r"\b(?:patient|pt|member|mbr|client|resident|enrollee|beneficiary|her|his|their|mom|mother|dad|father|son|"
    r"daughter|husband|wife|spouse|guardian|parent|family|home|cell|mobile|personal|pt's|patient's|member's)\b",
    re.IGNORECASE)
_PLAN_CONTEXT = re.compile(
    r"\b(?:fax|line|desk|dept|department|services|relations|hotline|helpline|help|center|centre|unit|team|office|"
    r"plan|plan's|your|you|claims|provider|providers|number for|toll[- ]free|tty|tdd|extension|ext|option|menu|"
    r"portal|support|nurse line|advice line|liaison|staffed|open|hours|hotline|coordinator|notification)\b",
    re.IGNORECASE)
# An identifier-looking number after these is the provider's, a code or a place: not member data.
_NOT_MEMBER_LABEL = re.compile(
    r"\b(?:npi|tin|tax ?id|ein|taxonomy|ndc|zip|zip ?code|p\.?\s?o\.?\s?box|box|suite|ste|room|rm|form|version|"
    r"v|page|pages|section|claim form|ref(?:erence)? (?:no|number|#)|pr|ticket|fax|line)"
    r"\.?\s*(?:#|no\.?|number|num)?\s*(?:is\s*)?[:#=]?\s*$", re.IGNORECASE)
_MEMBER_LABEL = re.compile(
    r"\b(?:member|mbr|mem|subscriber|patient|pt|mrn|med(?:ical)? record|record|policy|polic|insurance|ins|cin|id|"
    r"medicaid|medicare|mbi|hicn|ssn|social|chart|account|acct|case)\b[^\n]{0,12}$|(?:#|\bno\.?)\s*$",
    re.IGNORECASE)
_DOB_CONTEXT = re.compile(r"\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|birthdate|born|birthday|bday|b-day|"
                          r"b\.d\.|age|aged|yo)\b\W{0,4}(?:on|is|was|of|:)?\W{0,3}$", re.IGNORECASE)
_POLICY_DATE = re.compile(r"\b(?:effective|eff|as of|since|starting|beginning|begins?|until|through|thru|"
                          r"before|after|by|from|on or after|on or before|updated|revised|rev|edition|version|"
                          r"published|dated|deadline|due|released|policy|bulletin|change|changes|new rules?)\b"
                          r"\W{0,3}(?:the|date|of)?\W{0,3}$", re.IGNORECASE)
# "Member Services", "Client Services": desks of the plan, not a member
_DESKS = re.compile(r"\b(?:member|patient|client|customer)\s+(?:services?|relations|support|care|line)\b",
                    re.IGNORECASE)
_TOLL_FREE = re.compile(r"^(?:\+?1[-.\s]?)?\(?8(?:00|33|44|55|66|77|88)\)?")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])(?:\+?1[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?![\w-])"
                    r"|(?<![\w-])1?\d{10}(?![\w-])")
_SSN = re.compile(r"(?<![\w-])\d{3}([-.\s])\d{2}\1\d{4}(?![\w-])")
_SSN_LAST4 = re.compile(
    r"\b(?:(?:ssn|social(?:\s+security)?(?:\s+(?:number|no\.?|#))?)\W{0,4}(?:last\s*(?:4|four)\W{0,3})?"
    r"(?:ending(?:\s+in)?\s*|is\s*|:\s*)?|last\s*(?:4|four)(?:\s*digits)?\s*(?:of\s*)?(?:the\s*|their\s*|her\s*|his\s*)?"
    r"(?:ssn|social(?:\s+security)?)\W{0,4}(?:is\s*|:\s*)?)(\d{4})(?!\d)", re.IGNORECASE)
_MBI_CHAR = "AC-HJKMNP-RT-Yac-hjkmnp-rt-y"
_MBI = re.compile(rf"(?<![\w-])[1-9][{_MBI_CHAR}][{_MBI_CHAR}0-9]\d-?[{_MBI_CHAR}][{_MBI_CHAR}0-9]\d-?"
                  rf"[{_MBI_CHAR}]{{2}}\d{{2}}(?![\w-])")
_NUMERIC_DATE = re.compile(r"(?<![\w/.-])(\d{1,4})([/.-])(\d{1,2})\2(\d{2,4})(?![\w/-]|\.\d)")
_WORD_DATE = re.compile(rf"\b(?:(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:\d{{4}}|['’]\d{{2}})"
                        rf"|\d{{1,2}}(?:st|nd|rd|th)?[\s-]+(?:of\s+)?(?:{_MONTHS})\.?,?[\s-]+\d{{4}})\b",
                        re.IGNORECASE)
_DAY_MONTH = re.compile(r"(?<![\w/.-])(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01])(?![\w/])")
_COMPACT_DATE = re.compile(r"(?<![\w-])(19\d{2}|20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?![\w-])")
# A hyphen-joined run of letters and digits holding at least one digit ("XYZ123456789", "MBR-0045-7781").
_ALNUM_RUN = re.compile(r"(?<![\w$.,/-])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9]+(?:[- ](?=[A-Za-z]*\d)[A-Za-z0-9]+)*"
                        r"(?![\w/]|[.,]\d)")
_CPT_WITH_MODIFIER = re.compile(r"^\d{5}-[A-Za-z0-9]{2}$")
_STREET_ADDRESS = re.compile(
    rf"(?<![\w#-])\d{{1,6}}(?:-\d{{1,4}})?\s+(?:(?:[NSEW]{{1,2}}\.?\s+)?(?:[A-Za-z0-9][\w'.-]*\s+){{0,3}}"
    rf"(?:{_STREET})\b\.?|(?:{_STREET_PREFIX})\s+(?:[\w'.-]+\s?){{1,4}}?(?=,))"
    rf"(?:\s+(?-i:[NSEW]{{1,2}})\b)?(?:,?\s*(?:apt|apartment|unit|suite|ste|#|no\.?)\s*#?\s*[\w-]+)?"
    # the town, state and ZIP code that follow it ("..., Boise ID 83702")
    rf"(?:,?\s+(?-i:(?:[A-Z][a-zA-Z]+[\s,]+){{1,3}}[A-Z]{{2}})\s+\d{{5}}(?:-\d{{4}})?)?", re.IGNORECASE)
_PLACE_TAIL = r"(?:,?\s+(?-i:(?:[A-Z][a-zA-Z]+[\s,]+){1,3}[A-Z]{2})\s+\d{5}(?:-\d{4})?)?"
_BOX_ADDRESS = re.compile(r"\b(?:p\.?\s?o\.?\s?box|(?:rr|hc|rural route)\s*\d+,?\s+box)\s*#?\s*\d+" + _PLACE_TAIL,
                          re.IGNORECASE)
# A word, any alphabet ("Hương", "Zielińska"), with inner apostrophes and hyphens ("O'Brien", "Reyes-Morales")
_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*")
_PARTICLES = frozenset(("de", "del", "della", "der", "den", "la", "las", "los", "le", "da", "das", "dos", "do", "di",
                        "du", "van", "von", "bin", "ibn", "bint", "al", "el", "ní", "nic", "ó", "mac", "y", "e", "st"))
_SUFFIXES = frozenset(("jr", "sr", "ii", "iii", "iv", "v"))


@lru_cache(maxsize=1)
def _name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """Given names and surnames (lower case, ASCII) from Faker's person providers of many locales."""
    import importlib

    given: set[str] = set()
    surnames: set[str] = set()
    for locale in ("en_US", "en_GB", "en_IE", "en_IN", "es_MX", "es_ES", "pt_BR", "fr_FR", "de_DE", "it_IT",
                   "vi_VN", "zh_CN", "ko_KR", "hi_IN", "ar_AA", "ru_RU", "uk_UA", "pl_PL", "yo_NG", "zu_ZA",
                   "tw_GH", "ja_JP", "nl_NL", "sv_SE", "tr_TR", "fa_IR", "el_GR", "cs_CZ", "ro_RO", "hu_HU",
                   "en_NZ", "en_AU", "tl_PH", "fil_PH", "th_TH", "id_ID", "he_IL", "bn_BD", "ne_NP"):
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ModuleNotFoundError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            given.update(n.lower() for n in getattr(provider, attr, ()) or () if n.isascii())
        for attr in ("last_names", "last_names_male", "last_names_female"):
            surnames.update(n.lower() for n in getattr(provider, attr, ()) or () if n.isascii())
    surnames.add("doe")  # the placeholder name, as in "jane doe"
    return frozenset(given), frozenset(surnames)


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    return float(zipf_frequency(word, "en"))


# ---------------------------------------------------------------- the screen


@dataclass(frozen=True)
class Finding:
    """One identifier found: its kind and where it stands in the text."""

    kind: str
    start: int
    end: int
    value: str


@dataclass
class PhiScreen:
    """Finds member identifiers. ``known_words``, ``known_values`` and ``known_text`` come from the ingested
    documents: a word the sources use is no member's name, a number or address they print is the plan's."""

    known_words: frozenset[str] = frozenset()
    known_values: frozenset[str] = frozenset()  # digits of printed phone numbers, lower-case e-mails
    known_text: str = ""  # the sources' text, lower case, whitespace collapsed
    today: dt.date = field(default_factory=dt.date.today)

    @classmethod
    def from_sources(cls, text: str, values: Iterable[str] = ()) -> PhiScreen:
        """A screen that knows the ingested documents' words and printed contacts."""
        lower = " ".join(text.lower().split())
        words = frozenset(re.findall(r"[a-z][a-z'-]*[a-z]", lower))
        return cls(words, frozenset(_value_key(v) for v in values), lower)

    # -------------------------------------------------------------- public

    def find(self, text: str) -> list[Finding]:
        """Every member identifier in the text, overlaps merged, in order."""
        found: list[Finding] = []
        for finder in (self._emails, self._ssns, self._mbis, self._dates, self._phones, self._addresses,
                       self._ids, self._names):
            taken = [(f.start, f.end) for f in found]
            found += [f for f in finder(text) if not any(s < f.end and f.start < e for s, e in taken)]
        return sorted(found, key=lambda f: f.start)

    def redact(self, text: str) -> tuple[str, list[Finding]]:
        """The text with every identifier replaced by ``[redacted]``, and what was found."""
        found = self.find(text)
        out, last = [], 0
        for f in found:
            out += [text[last:f.start], MASK]
            last = f.end
        out.append(text[last:])
        return "".join(out), found

    # -------------------------------------------------------------- kinds

    def _emails(self, text: str) -> list[Finding]:
        out = []
        for m in _EMAIL.finditer(text):
            value = m.group()
            local = value.split("@")[0]
            if _value_key(value) in self.known_values or value.lower() in self.known_text:
                continue
            personal = bool(_WEBMAIL.search(value)) or bool(_MEMBER_CONTEXT.search(text[max(0, m.start() - 30):
                                                                                        m.start()]))
            if not personal and _ROLE_MAILBOX.match(local):
                continue
            out.append(Finding("email", m.start(), m.end(), value))
        return out

    def _ssns(self, text: str) -> list[Finding]:
        out = [Finding("ssn", m.start(), m.end(), m.group()) for m in _SSN.finditer(text)
               if not self._known_number(m.group())]
        out += [Finding("ssn", m.start(1), m.end(1), m.group(1)) for m in _SSN_LAST4.finditer(text)]
        return out

    def _mbis(self, text: str) -> list[Finding]:
        return [Finding("medicare_id", m.start(), m.end(), m.group()) for m in _MBI.finditer(text)
                if sum(c.isdigit() for c in m.group()) >= 4]

    def _dates(self, text: str) -> list[Finding]:
        out = []
        for m in _NUMERIC_DATE.finditer(text):
            year = _calendar_year(m.group(1), m.group(3), m.group(4), m.group(2))
            if year is not None and self._is_birth_date(text, m.start(), year, len(m.group(4)) == 2):
                out.append(Finding("date", m.start(), m.end(), m.group()))
        for m in _WORD_DATE.finditer(text):
            four = re.findall(r"\d{4}", m.group())
            year = int(four[-1]) if four else 1900 + int(m.group()[-2:])
            if self._is_birth_date(text, m.start(), year, not four):
                out.append(Finding("date", m.start(), m.end(), m.group()))
        for m in _DAY_MONTH.finditer(text):  # "born 9/30": a birthday without its year
            if _DOB_CONTEXT.search(text[max(0, m.start() - 30):m.start()]):
                out.append(Finding("date", m.start(), m.end(), m.group()))
        for m in _COMPACT_DATE.finditer(text):
            if self._is_birth_date(text, m.start(), int(m.group(1)), False):
                out.append(Finding("date", m.start(), m.end(), m.group()))
        return out

    def _is_birth_date(self, text: str, start: int, year: int, short_year: bool) -> bool:
        """A date of birth, or a date old enough to be one. A recent date after "effective", "before" and the
        like is a policy's or a deadline's; a recent unlabelled date (a date of service) alone names nobody."""
        before = text[max(0, start - 30):start]
        if _DOB_CONTEXT.search(before):
            return True
        if _POLICY_DATE.search(before):
            return False
        return short_year or year <= self.today.year - 12

    def _phones(self, text: str) -> list[Finding]:
        out = []
        for m in _PHONE.finditer(text):
            value = m.group()
            digits = re.sub(r"\D", "", value)
            before, after = text[max(0, m.start() - 40):m.start()], text[m.end():m.end() + 30]
            own = re.search(r"\b(?:patient|pt|member|mbr|client|her|his|their|mom|dad)(?:'s)?\s+(?:home\s+|cell\s+|"
                            r"mobile\s+)?(?:phone|cell|number|ph|tel|#)\W{0,4}$", before, re.IGNORECASE)
            if not own and (self._known_number(value) or _NOT_MEMBER_LABEL.search(before)
                            and not _MEMBER_CONTEXT.search(before)):
                continue
            if _MEMBER_LABEL.search(before[-20:]) and not re.search(r"\D", value):
                out.append(Finding("id", m.start(), m.end(), value))  # ten bare digits after "ins id#"
                continue
            member = bool(_MEMBER_CONTEXT.search(_DESKS.sub(" ", before[-25:])))
            if not member and (_TOLL_FREE.match(value.strip()) or _PLAN_CONTEXT.search(before[-45:])
                               or _PLAN_CONTEXT.search(after)):
                continue
            if len(digits) == 10 and not re.search(r"\D", value) and _MEMBER_LABEL.search(before):
                kind = "id"  # ten bare digits after "medicaid id" are an id, not a phone
            else:
                kind = "phone"
            out.append(Finding(kind, m.start(), m.end(), value))
        return out

    def _addresses(self, text: str) -> list[Finding]:
        out = []
        for m in _BOX_ADDRESS.finditer(text):  # a member's mailing box or rural route, said to be theirs
            value = m.group().rstrip(".,")
            if " ".join(value.lower().split()) not in self.known_text \
                    and _MEMBER_CONTEXT.search(_DESKS.sub(" ", text[max(0, m.start() - 40):m.start()])):
                out.append(Finding("address", m.start(), m.start() + len(value), value))
        for m in _STREET_ADDRESS.finditer(text):
            value = m.group().rstrip(".,")
            if " ".join(value.lower().split()) in self.known_text:
                continue
            words = value.split()
            # "20 sessions per way" is no address: the street word must follow a name-like word
            if len(words) < 3 and not re.search(r"\b(?:apt|unit|#)", value, re.IGNORECASE):
                continue
            out.append(Finding("address", m.start(), m.start() + len(value), value))
        return out

    def _ids(self, text: str) -> list[Finding]:
        out = []
        phones = [(m.start(), m.end()) for m in _PHONE.finditer(text)]
        for m in _ALNUM_RUN.finditer(text):
            if any(s <= m.start() < e or s < m.end() <= e for s, e in phones):
                continue  # a phone number the phone finder judged the plan's
            value = m.group().strip()
            digits = sum(c.isdigit() for c in value)
            before = text[max(0, m.start() - 30):m.start()]
            labelled = bool(_MEMBER_LABEL.search(before))
            if digits < (5 if labelled else 6) or _CPT_WITH_MODIFIER.match(value):
                continue
            if _NOT_MEMBER_LABEL.search(before) or self._known_number(value) or before.rstrip().endswith("$"):
                continue
            if re.fullmatch(r"(?:19|20)\d{2}", value):
                continue
            start = m.start()
            prefix = re.search(r"\b([A-Z]{2,4})\s$", before)
            if prefix and prefix.group(1).lower() not in _COMMON_SHAPES | _OFFICE_WORDS | {"id", "no", "num"}:
                start -= len(prefix.group())  # "ZGP 492 018 733": the letters are part of the id
            out.append(Finding("id", start, m.start() + len(value), text[start:m.start() + len(value)]))
        return out

    # -------------------------------------------------------------- names

    def _names(self, text: str) -> list[Finding]:
        # Capitals mark names only where the writer capitalises words inside a sentence ("Patient Maria Garcia");
        # "pt smith needs an MRI" capitalises acronyms only, and a question in capitals capitalises everything
        inner = re.findall(r"(?<![.!?]\s)(?<!^)\b[^\W\d_][a-zà-ÿ'’-]+", text.strip())
        cased = any(w[0].isupper() and not self._office_word(w.lower()) for w in inner)
        out: list[Finding] = []
        for m in _APPOSITIVE.finditer(text):  # "the son, Will Fairbanks, is 19": a name between commas
            if self._name_word(m.group(2).split()[-1], True):
                out.append(Finding("name", m.start(2), m.end(2), m.group(2)))
        letters = [c for c in text if c.isalpha()]
        if sum(c.isupper() for c in letters) < 0.6 * max(1, len(letters)):
            # "MARISOL does not show", "for BERNADETTE O'MALLEY:": a name typed in capitals in a question that
            # is not: capitals words with a given name the lists know among them
            for m in re.finditer(r"\b[A-Z][A-Z'’-]{2,}(?:\s+[A-Z][A-Z'’-]+)*\b", text):
                words = [w.lower() for w in m.group().split()]
                if len(words) == 1 and len(words[0]) < 5:
                    continue  # "NICU", "CARC": a short word in capitals is an acronym
                if any(w in _name_lists()[0] and _zipf(w) < 4.0 and not self._office_word(w) for w in words) \
                        and not any(self._office_word(w) for w in words) \
                        and not any(f.start <= m.start() < f.end for f in out):
                    out.append(Finding("name", m.start(), m.end(), m.group()))
        for run in self._runs(text, cased):
            if any(f.start <= run[0][0] < f.end for f in out):
                continue
            kept = self._judge(text, run, cased)
            if kept is not None:
                start, end = kept
                value = re.sub(r"['’]s$", "", text[start:end])
                out.append(Finding("name", start, start + len(value), value))
        return _merged(text, out)

    def _runs(self, text: str, cased: bool) -> list[list[tuple[int, int, str]]]:
        """Runs of words that could together be a person's name: name-like words joined by single spaces, with
        initials ("L."), particles ("de los", "bin", "Ní") between them and a suffix ("Jr.", "III") after."""
        tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
        runs: list[list[tuple[int, int, str]]] = []
        current: list[tuple[int, int, str]] = []
        for k, tok in enumerate(tokens):
            joined = bool(current) and re.fullmatch(r"[ \t]+|\.[ \t]+", text[current[-1][1]:tok[0]]) is not None
            if joined and text[current[-1][1]:tok[0]].startswith(".") and len(current[-1][2]) > 1:
                joined = False  # a full stop ends a sentence unless it follows an initial
            word = tok[2]
            # an initial is a letter followed by a full stop ("L."), or a capital in a cased question
            initial = _initial(word) and (text[tok[1]:tok[1] + 1] == "." or cased and word.isupper())
            fits = self._name_word(word, cased) or (
                bool(current) and (word.lower() in _PARTICLES or initial) and k + 1 < len(tokens)) or (
                not current and initial and k + 1 < len(tokens))
            suffix = bool(current) and word.lower().rstrip(".") in _SUFFIXES
            if current and joined and (fits or suffix):
                current.append(tok)
                continue
            if current:
                runs.append(current)
            current = [tok] if fits and not suffix else []
        if current:
            runs.append(current)
        return [_trim(r) for r in runs if _trim(r)]

    def _name_word(self, word: str, cased: bool) -> bool:
        """A word that may be part of a name: not a function word, not an office word, not a word the sources
        use (unless the name lists know it); capitalised where the question uses capitals."""
        bare = _strip_possessive(word)
        lower = bare.lower()
        if len(lower) < 2 or lower in _COMMON_SHAPES or self._office_word(lower) or lower in _PARTICLES \
                or lower in _DESIGNATOR_WORDS:
            return False
        if cased and not bare[0].isupper():
            return False
        if not cased and lower in _PREPOSITIONS:
            return False  # "per pt per month": in a question typed in lower case, "per" is no given name
        if not re.search(r"[aeiouyà-ÿ]", lower):
            return False  # "svcs", "mbr": shorthand, no name
        if _apostrophe_name(lower) or not lower.isascii():
            return True
        given, surnames = _name_lists()
        if "-" in lower:  # "Dunleavy-Price", "ji-hoon": every part may be a name
            return all(self._name_word(part, False) or part in _PARTICLES or _zipf(part) < 4.0
                       for part in lower.split("-") if part)
        if cased:
            return lower in given or lower in surnames or _zipf(lower) < 5.0
        return (lower in given or lower in surnames) and _zipf(lower) < 5.5 or _zipf(lower) < 3.5

    def _judge(self, text: str, run: list[tuple[int, int, str]], cased: bool) -> tuple[int, int] | None:
        """The part of a run that is a member's name, or None."""
        start, end = run[0][0], run[-1][1]
        if _PROVIDER_TITLE.search(text[max(0, start - 10):start]):
            return None  # "Dr. Okafor": a provider's name is no member data
        names = [t for t in run if t[2].lower() not in _PARTICLES and not _initial(t[2])
                 and t[2].lower().rstrip(".") not in _SUFFIXES]
        if not names:
            return None
        lowers = [_strip_possessive(t[2]).lower() for t in names]
        given, surnames = _name_lists()
        before = text[max(0, start - 40):start]
        designated = _DESIGNATED.search(before)
        if designated is None and _LAST_THEN_FIRST.search(before):
            return start, end  # "last name Abernathy, first Clarence"
        if designated:
            if designated.group(1).lower() in _KIN and not (cased and names[0][2][0].isupper()):
                return None  # "her son needs", "mom called"
            title_phrase = cased and designated.group(1)[0].isupper() and not _HONORIFIC.match(designated.group(1))
            if title_phrase and not any(self._strong_name(w, titled=True) for w in lowers):
                return None  # "Member Handbook", "Patient Responsibility Amount": a title, not a name
            if not (cased or len(names) > 1 or self._strong_name(lowers[0])):
                return None
            if designated.group(1).lower() == "pts" and not cased and len(names) == 1 and _zipf(lowers[0]) >= 3.0:
                return None  # a plural is followed by what patients do ("pts owe a copay"), not by one name
            if designated.group(1).lower() in ("baby boy", "baby girl"):
                start = max(0, start - 40) + designated.start(1)  # "Baby Girl Tran" is the newborn's name
            inverted = self._inverted(text, run, designated=True)
            return (start, inverted[1]) if inverted else (start, end)
        # "Zhang, Wei —", "chen, xiaoming id ...": surname, comma, given name, at the start of a clause
        inverted = self._inverted(text, run)
        if inverted:
            return inverted
        if len(names) < 2:
            return None
        if cased:
            f, s = lowers[0], lowers[-1]
            first_ok = f in given or f in surnames or _zipf(f) < 3.0 or not f.isascii() or "-" in f and all(
                part in given or part in surnames for part in f.split("-"))
            last_ok = s in surnames or s in given or _zipf(s) < 3.6 or not s.isascii() or _apostrophe_name(s)
            known = f in given or f in surnames or s in surnames or "-" in f + s
            prior = text[:start].rstrip()
            mid_sentence = bool(prior) and not prior.endswith((".", "!", "?", ":", ";", "—", "–", "-", "(", '"'))
            if not first_ok and mid_sentence and _zipf(s) < 3.3 and s not in self.known_words:
                return start, end  # "for Precious Mbeki": capitals mid-sentence before a rare name
            if not first_ok and s in surnames and _zipf(f) < 4.0:
                first_ok = True  # "Bao Nguyen"
            if first_ok and last_ok and (known or _zipf(f) + _zipf(s) < 6.0 or not (f + s).isascii()):
                return start, end
            return None
        # one case throughout ("tyler brooks", "jose luis ramirez"): a given name the lists know first, and a
        # surname they know, or a word English hardly uses, last
        f, s = lowers[0], lowers[-1]
        if len(f) < 3 or len(s) < 3 or not (f in given or not f.isascii()):
            return None
        if _zipf(f) >= 4.0 and re.search(r"\b(?:we|i|you|they|to)\s+$", text[:start], re.IGNORECASE):
            return None  # "can we bill the plan instead", "i will send": a given name that is also a verb, used as one
        if _zipf(f) < 4.5 and (s in surnames and _zipf(s) < 4.8 or _zipf(s) < 3.0 or not s.isascii()):
            return start, end
        if _zipf(f) < 5.5 and s in surnames and _zipf(s) < 5.3:
            return start, end  # "john brown", "WILLIAM BROWN": a common given name before a listed surname
        return None

    def _inverted(self, text: str, run: list[tuple[int, int, str]], *,
                  designated: bool = False) -> tuple[int, int] | None:
        """"Surname, Given [M.]" at the start of a clause (or after "patient"), followed by a break or an
        identifier label."""
        first = run[-1] if designated else run[0]
        if not designated and not re.search(r"(?:^|[.!?:;—–-]\s*|\b(?:for|re|about)\s+)$", text[:first[0]]):
            return None
        m = re.match(r",\s*([^\W\d_][^\W\d_'’-]*)(?:\s+[^\W\d_]\.)?", text[first[1]:])
        if m is None:
            return None
        tail = text[first[1] + m.end():]
        if designated and m.group(1).lower() in _name_lists()[0] and _zipf(m.group(1).lower()) < 5.5:
            return first[0], first[1] + m.end()  # "Patient Delgado, Rosa needs an MRI"
        if not re.match(r"\s*(?:[—–;:,-]|\(|$|(?:dob|d\.o\.b|id|mrn|mbr|member|born|age)\b)", tail, re.IGNORECASE):
            return None
        given, surnames = _name_lists()
        last, first_name = _strip_possessive(first[2]).lower(), m.group(1).lower()
        if self._office_word(last) or self._office_word(first_name) or first_name in _COMMON_SHAPES:
            return None
        last_ok = last in surnames or _zipf(last) < 3.6 or not last.isascii() or "-" in last
        first_ok = first_name in given or _zipf(first_name) < 3.6 or not first_name.isascii()
        return (first[0], first[1] + m.end()) if last_ok and first_ok else None

    def _strong_name(self, lower: str, *, titled: bool = False) -> bool:
        """A word that is a name on its own evidence: the name lists know it, or English hardly does."""
        if not lower.isascii() or _apostrophe_name(lower):
            return True
        given, surnames = _name_lists()
        verb = bool(re.search(r"(?:ed|ing|ies|es)$", lower)) and lower not in surnames
        if len(lower) < 3 and not (len(lower) == 2 and (lower in given or lower in surnames)):
            return False  # "Li", "Vo" are names; other two-letter words are not
        if verb or not re.search(r"[aeiouyà-ÿ]", lower):
            return False
        listed = (lower in given or lower in surnames) and _zipf(lower) < (5.0 if titled else 5.5)
        return listed or _zipf(lower) < 3.0 or _apostrophe_name(lower) or not lower.isascii() \
            or "-" in lower and all(self._strong_name(part) for part in lower.split("-") if part)

    def _office_word(self, lower: str) -> bool:
        return lower in _OFFICE_WORDS or lower in self.known_words and lower not in _name_lists()[1] \
            and lower not in _name_lists()[0]

    def _known_number(self, value: str) -> bool:
        return _value_key(value) in self.known_values


_KIN = frozenset(("son", "daughter", "child", "kid", "kiddo", "baby", "mom", "dad", "mother", "father", "husband",
                  "wife", "spouse", "guardian", "infant", "newborn"))


def _apostrophe_name(lower: str) -> bool:
    """O'Brien, D'Angelo."""
    return bool(re.fullmatch(r"[a-z]['’][a-z]{3,}", lower))


def _merged(text: str, found: list[Finding]) -> list[Finding]:
    """Findings in order, overlapping ones joined into one ("RODRIGUEZ, ELENA" found as a surname run and as a
    name in capitals)."""
    out: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if out and f.start < out[-1].end:
            last = out[-1]
            end = max(last.end, f.end)
            out[-1] = Finding(last.kind, last.start, end, text[last.start:end])
        else:
            out.append(f)
    return out


def _initial(word: str) -> bool:
    return len(word) == 1 and word.isalpha()


def _trim(run: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """A run without particles or initials dangling at its end ("Maria de" -> "Maria")."""
    while run and (run[-1][2].lower() in _PARTICLES or _initial(run[-1][2])):
        run = run[:-1]
    return run


def _strip_possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word)


def _value_key(value: str) -> str:
    """How a printed contact is compared: a phone number by its last ten digits, an e-mail in lower case."""
    if "@" in value:
        return value.lower()
    digits = re.sub(r"\D", "", value)
    return digits[-10:] if len(digits) >= 10 else digits


def _calendar_year(a: str, b: str, c: str, sep: str) -> int | None:
    """The year of a numeric date (m/d/y, d.m.y or y-m-d), or None when the three numbers are no date."""
    x, y, z = int(a), int(b), int(c)
    if len(a) == 4:  # 1958-07-22
        return x if 1 <= y <= 12 and 1 <= z <= 31 and 1900 <= x <= 2100 else None
    if len(c) not in (2, 4) or len(a) > 2:
        return None
    year = z if len(c) == 4 else (1900 + z if z > 30 else 2000 + z)
    if not 1900 <= year <= 2100:
        return None
    month_first = 1 <= x <= 12 and 1 <= y <= 31
    day_first = 1 <= y <= 12 and 1 <= x <= 31
    if sep == "." and not day_first and not month_first:
        return None
    return year if (month_first or day_first) else None
