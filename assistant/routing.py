"""Contact routing: which department to contact for the question, from the contact directory built at
ingestion. Every value comes from a document and is checked verbatim before it leaves."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.contacts import DEPARTMENT_WORDS, EMAIL_RE, PHONE_RE, guess_department
from assistant.index import IndexSnapshot
from assistant.lexical import LexicalIndex
from assistant.profile import NEUTRAL, PlanProfile
from assistant.retrieval import GLOSSARY_SECTION, Hit, domain_tokens
from assistant.schema import Chunk, Contact
from assistant.sentences import SentenceVectors, quotable_sentences
from assistant.vocabulary import english_zipf, parenthetical_expansion

log = logging.getLogger(__name__)

_ASKS_FAX = re.compile(r"\bfax", re.IGNORECASE)
# a row label naming a desk, in any case ("state programs provider team"); "services", "support" and the like name
# topics as often ("Prior authorization for DME services"), so they count only capitalised, as in contacts.py
_DESK = re.compile(r"^[^@]*(?:\b(?i:team|department|unit|desk|office|hotline|liaison|coordinator)\b"
                   rf"|\b{DEPARTMENT_WORDS}\b)[^@]*$")
_TABLE_CELL = re.compile(r"\s*\|\s*|\s{2,}")


@dataclass(frozen=True)
class Routed:
    """A department to contact, with its numbers as printed and the passage that gives them."""

    department: str
    phone: str | None
    email: str | None
    fax: str | None
    purpose: str
    region: str | None
    source_chunk_id: str
    doc_id: str
    score: float

    def to_dict(self) -> dict[str, str | None]:
        return {"department": self.department, "phone": self.phone, "email": self.email, "fax": self.fax,
                "purpose": self.purpose, "region": self.region, "source_chunk_id": self.source_chunk_id}


@dataclass(frozen=True)
class ContactProfile:
    """A directory contact with the words around it that say whom it reaches and what for."""

    contact: Contact
    department: str
    text: str  # from the previous contact in its passage to the next one: the row or sentence it lives in


@dataclass
class _Mention:
    """A contact while the directory is labelled: what its own words say, and the value it follows."""

    contact: Contact
    name: str  # a department name in its own row or sentence ("" if none)
    cell: str  # its table row's label ("" if none)
    text: str
    follows: tuple[str, int] | None  # (chunk, end) of the value it is printed right after, as in "(fax ...)"

    @property
    def in_table(self) -> bool:
        return "|" in self.text


def build_profiles(snapshot: IndexSnapshot, plan: PlanProfile = NEUTRAL) -> list[ContactProfile]:
    """One profile per directory entry; table rows get their own cells, not their neighbours'.

    A contact's department is the name printed in its own row or sentence ("Credentialing Department at
    503-555-0140"), never one from the row before it. A value printed right after another ("503-555-0122
    (fax 503-555-0123)") belongs to the same department. Where its own words name none ("e-mail it to ..."),
    the name printed beside the same number or address elsewhere in the corpus is used; then its table
    row's label; then its section's title. The plan's own name (``plan``) names no desk: "call Acme at" is
    nobody in particular, and "Acme Member Services" is the desk other rows call "Member Services"."""
    plan_names = frozenset(n.lower() for n in plan.plan_names)
    mentions: list[_Mention] = []
    ends: dict[tuple[str, int], int] = {}  # (chunk, where a value ends) -> its mention
    for contact in snapshot.contacts:
        chunk = snapshot.chunks.get(contact.chunk_id)
        text = chunk.text if chunk else contact.context
        at = text.find(contact.value)
        if at < 0:
            mentions.append(_Mention(contact, "", "", contact.context, None))
            continue
        values = sorted({m.start(): m.end() for m in (*PHONE_RE.finditer(text), *EMAIL_RE.finditer(text))}.items())
        prev_end = max((e for s, e in values if e <= at), default=max(0, at - 300))
        next_start = min((s for s, e in values if s > at), default=min(len(text), at + 300))
        before = text[max(prev_end, at - 300):at]
        after = text[at + len(contact.value):min(next_start, at + 300)]
        follows = (contact.chunk_id, prev_end) if _JOINS_PREVIOUS.fullmatch(before) else None
        ends.setdefault((contact.chunk_id, at + len(contact.value)), len(mentions))
        name = spelled_out(guess_department(_own_words(before), plan_names) or "", snapshot, contact)
        mentions.append(_Mention(contact, name, cell_label(before),
                                 f"{before} {after}", follows))
    named: dict[str, Counter[str]] = {}
    rows: dict[str, Counter[str]] = {}
    for m in mentions:
        if m.name:
            named.setdefault(m.contact.value.lower(), Counter())[m.name] += 1
        if m.cell and m.in_table:
            rows.setdefault(m.contact.value.lower(), Counter())[m.cell] += 1
    names = [_usual_name(m.name, named.get(m.contact.value.lower(), Counter())) for m in mentions]

    def own_label(i: int) -> str:
        m = mentions[i]
        labels = rows.get(m.contact.value.lower(), Counter()).most_common()
        # a row label that names a desk ("State programs provider team") over one that names a topic ("Ownership
        # and Control disclosure | ... | Provider-Team@plan.example"): one address reaches one department
        desk = next((label for label, _ in labels if _DESK.search(label)), "")
        cell = m.cell if m.in_table else ""
        if cell and desk and not _DESK.search(cell):
            cell = desk
        return names[i] or cell or desk or (labels[0][0] if labels else "") or m.cell

    profiles = []
    for i, m in enumerate(mentions):
        partner = ends.get(m.follows) if m.follows else None
        label = names[i] or (own_label(partner) if partner is not None and partner != i else "") or own_label(i)
        label = _TRAILING_ACRONYM.sub("", label or m.contact.section.lstrip("0123456789. ")) or "Contact"
        profiles.append(ContactProfile(m.contact, label, m.text))
    # "<plan> Occupational Health Services" is the desk other rows call "Occupational Health Services"
    prefix = plan.name_prefix()
    if prefix is None:
        return profiles
    labels = {p.department for p in profiles}
    return [ContactProfile(p.contact, bare, p.text) if (bare := prefix.sub("", p.department)) in labels else p
            for p in profiles]


_ACRONYM = re.compile(r"[A-Z][A-Z0-9&/]{1,7}")
# "Justice Involved Liaison (JIL)" is the desk other rows call "Justice Involved Liaison"
_TRAILING_ACRONYM = re.compile(r"(?<=\w)\s+\([A-Z][A-Z0-9&/]{1,7}\)$")


def spelled_out(name: str, snapshot: IndexSnapshot, contact: Contact) -> str:
    """An acronym name ("JIL", "SIU") in words, as its passage or document defines it ("Justice Involved
    Liaison"), so it is the name other passages print beside the same contact; any other name as it is."""
    if not _ACRONYM.fullmatch(name):
        return name
    chunk = snapshot.chunks.get(contact.chunk_id)
    record = snapshot.documents.get(contact.doc_id)
    same_doc = [snapshot.chunks[i] for i in (record.chunk_ids if record else ()) if i in snapshot.chunks]
    for c in ([chunk] if chunk else []) + same_doc:
        for text in (*c.heading_path, c.text):
            at = text.find(f"({name})")
            expansion = parenthetical_expansion(text[max(0, at - 120):at], name) if at >= 0 else None
            if expansion:
                return expansion
    return name


def _usual_name(name: str, counts: Counter[str]) -> str:
    """The department name for one mention, given every name printed beside the same value: its own, unless
    a more usual one is its tail ("Sentinel Event Policy Provider Relations") or it is a lone "Department";
    none of its own: the most usual one."""
    if not name:
        return counts.most_common(1)[0][0] if counts else ""
    return next((c for c, n in counts.most_common() if n > counts[name] and " " in c
                 and (name.endswith(" " + c) or (" " not in name and c.endswith(" " + name)))), name)


# between two values of one department: "503-555-0122 (fax 503-555-0123)", "... or nw-um@..."
_JOINS_PREVIOUS = re.compile(r"[\s(),;/]*(?:(?:or|and|fax|phone|tel\.?|e-?mail|toll[- ]free)[\s:(),;/]*)*",
                             re.IGNORECASE)
_INSTRUCTION = re.compile(r"\b(call\w*|contact\w*|ask|send|to|at|by|please|use|e-?mail|may|must|should)\b",
                          re.IGNORECASE)
_KIND_WORDS = re.compile(r"(?:\s*\b(?:phone|fax|tel|telephone|e-?mail|toll[- ]free|tty(?:/tdd)?|tdd|line)\b:?)+\s*$",
                         re.IGNORECASE)


def _own_words(before: str) -> str:
    """The words before a contact in its own table row ("State programs provider team | "), so the row above
    cannot lend its name; elsewhere its own sentence (a line break is only where the page wrapped)."""
    lines = before.split("\n")
    if "|" in lines[-1]:
        return lines[-1]
    return re.split(r"(?<=[.!?;])\s+(?=[A-Z])", before)[-1]


def cell_label(before: str) -> str:
    """What a table row calls a contact: its first cell ("State programs provider team | ..."), or the short run
    before it in a flattened row ("Payment disputes and claim appeals 503-..."). Empty if none."""
    line = _own_words(before).rsplit("\n", 1)[-1]
    cell = next((c for c in line.split("|") if c.strip()), "") if "|" in line else re.split(r"[.:;!?]\s", line)[-1]
    cell = _KIND_WORDS.sub("", " ".join(cell.split())).strip(" ,-–(")
    if 1 <= len(cell.split()) <= 8 and not _INSTRUCTION.search(cell) and not re.search(r"\d{3}", cell) \
            and re.search(r"[A-Za-z]{3}", re.sub(r"\b(and|or)\b", "", cell)):
        return cell
    return ""


_CONTACT_SECTION = re.compile(r"contact|whom to|questions|help", re.IGNORECASE)
# words any department's name may carry, which say nothing about what it handles (stopwords go anyway), and
# the plan's own names; nor do a region's names ("<state> provider team" is not the desk for every question
# about that state)
_GENERIC_NAME = frozenset(domain_tokens("department services unit team line office desk help program customer "
                                        "provider contacts center key same"))


def region_name_tokens(plan: PlanProfile) -> frozenset[str]:
    """The tokens of every region's names in the plan profile."""
    return frozenset(t for name in plan.place_names for t in domain_tokens(name))


def desk_words(region_words: frozenset[str]) -> Callable[[str], list[str]]:
    """The words a contact's row or sentence and a question are matched on: not a region's names ("claims for
    our <region> members" is about claims; the region is weighed on its own), which a flattened table row shares
    with the paragraph after it ("Help desk, 503-555-0105  This section applies to <region> members"). Measured
    on the bundled corpus: with region names matched, routing 0.890 with a timely-filing question naming its
    region sent to the online help desk first; without them 0.886 (one unanswerable question routed to another
    desk) and follow-up turns unchanged; stripping the plan's names too lost more (routing 0.864, follow-up
    0.800)."""
    def words(text: str) -> list[str]:
        return [t for t in domain_tokens(text) if t not in region_words]

    return words


# How close in meaning the question is to the sentence or table row printing a contact ("who okays an MRI" and
# "Referral and Authorization Department | ... | prior authorization"), scaled from 0 (the median contact) to 1 (the
# closest): a desk printed in the top passage is no longer routed to for a question about something else. It
# counts only for a contact the retrieved passages point at (printed in one, in its section or in its document's
# contact table): counted for every contact, a question about a member covered "thru her job" went to
# Occupational Health first. 0.4 / 0.6 / 0.9 / 1.2 / 1.5: corpus routing 0.868 / 0.877 / 0.890 / 0.877 / 0.860
# (0.864 without), real routing 0.905 but 0.857 at 1.5. A rank instead of the scaled cosine did worse (corpus
# 0.842-0.864), and so did a factor on the score (corpus 0.860).
MEANING_WEIGHT = 0.9
# A department named in a passage without its number ("prior authorization from the Referral and Authorization
# Department") points at it as a printed number would, times this. 0 / 0.4 / 0.8 / 1.0: corpus routing 0.895 /
# 0.895 / 0.908 / 0.912, passed 0.680 / 0.680 / 0.685 / 0.685; real unchanged (0.905).
NAMED_FACTOR = 1.0
COMMON_SHARE = 0.25  # a name word printed in more than this share of passages ("member", "claim") names nothing
# A question word this common in English ("someone" 5.6, "office" 5.4, "help" 5.8; "claim" 5.0, "fraud" 4.4) does not
# make a sentence naming a department about the question: "see if someone's covered" was routed to the Compliance
# Hotline, named by a sentence on someone using another person's card. 4.8 / 5.0 / 5.3 measured the same.
EVERYDAY_WORD = 5.0


class ContactRouter:
    """Scores directory contacts against a question: lexical match with their row or sentence, plus a
    preference for contacts printed in the passages retrieved for the answer, in the sections of those
    passages, or in the contact tables of their documents; for a department whose name the question uses
    ("re-credentialed" -> Credentialing Department); with ``sentences`` (cached sentence vectors) and the
    question's vector, for a contact whose row or sentence is close in meaning to the question; and, on a
    follow-up, for the contacts the answer it follows gave.

    ``idf`` (word -> inverse document frequency over the passages, as the retriever counts it) says which
    name words are distinctive: "Special Investigations Unit" is named by "investigations", while
    "Member Services" is named by no word, since nearly every question mentions a member."""

    def __init__(self, snapshot: IndexSnapshot, idf: Mapping[str, float], *, lexical_weight: float = 0.5,
                 evidence_weight: float = 1.0, section_weight: float = 0.5, document_weight: float = 0.5,
                 glossary_factor: float = 0.2, evidence_depth: int = 10, name_weight: float = 0.6,
                 carry_weight: float = 0.3, sentences: SentenceVectors | None = None,
                 meaning_weight: float = MEANING_WEIGHT, plan: PlanProfile = NEUTRAL) -> None:
        self.snapshot = snapshot
        self.plan = plan
        region_words = region_name_tokens(plan)
        generic_name = _GENERIC_NAME | region_words | frozenset(domain_tokens(" ".join(plan.plan_names)))
        self._shared_name_words = _SHARED_NAME_WORDS | {w for n in (*plan.place_names, *plan.plan_names)
                                                        for w in re.findall(r"[a-z]{4,}", n.lower())}
        self.lexical_weight = lexical_weight
        self.evidence_weight = evidence_weight
        self.section_weight = section_weight
        self.document_weight = document_weight
        self.glossary_factor = glossary_factor
        self.evidence_depth = evidence_depth
        self.name_weight = name_weight
        self.carry_weight = carry_weight
        self.profiles = build_profiles(snapshot, plan)
        self.lexical = LexicalIndex([f"{p.department} {p.text}" for p in self.profiles], desk_words(region_words))
        # what never changes between questions: each profile's chunk, region, and whether it is a
        # glossary mention (weak evidence of whom to call) or printed only in a superseded edition
        self._chunks = [snapshot.chunks.get(p.contact.chunk_id) for p in self.profiles]
        self._regions = [self._region(p.contact) for p in self.profiles]
        self._glossary = [c is not None and bool(GLOSSARY_SECTION.search(c.section or "")) for c in self._chunks]
        self._retired = [c is not None and c.status == "superseded" for c in self._chunks]
        self._fallback: dict[tuple[str | None, str], list[Routed]] = {}
        common = math.log(1 + 1 / COMMON_SHARE)  # the idf of a word in that share of passages
        self._idf, self._common_idf = idf, common
        self._names = [{t: idf[t] for t in set(domain_tokens(p.department)) - generic_name
                        if idf.get(t, 0.0) > common} for p in self.profiles]
        # a department's name as a passage would print it in running text ("referral and authorization department")
        self._plain_names = [" ".join(p.department.lower().split()) if len(p.department.split()) >= 2 else ""
                             for p in self.profiles]
        self.meaning_weight = meaning_weight
        self._vectors = None
        if sentences is not None:
            self._vectors, self._has_vector = _profile_vectors(self.profiles, self._chunks, sentences)

    def route(self, question: str, query: str, hits: Sequence[Hit], region: str | None, *,
              limit: int = 2, superseded: bool = False, previous: Sequence[dict[str, Any]] = (),
              question_vector: np.ndarray | None = None, urgent: bool = False) -> list[Routed]:
        """The best departments for the question. Contacts printed only in a superseded edition (a retired
        fax number) are never offered unless the question is about that edition. ``previous``: the contacts
        of the answer a follow-up leans on ("and for a corrected claim?" goes to the same desk)."""
        scores = self.lexical.scores(query)
        top = float(scores.max()) if len(scores) else 0.0
        evidence = self._evidence(hits)
        asked = set(domain_tokens(query))
        # an urgent question's passages are the notification duty's, which name every desk an event may also
        # concern ("privacy events also go to the Compliance Office"): only the numbers they print count
        named_in = self._named_in(hits, set() if urgent else self.distinctive(asked))
        if region is None and hits:  # a question answered from one region's passage goes to that region's desks
            region = self.plan.region_of(hits[0].chunk)
        named = self.plan.detect_region(question)  # a region the question itself names rules the others' desks out
        asks_fax = bool(_ASKS_FAX.search(question))
        given: dict[str, float] = {}  # the earlier answer's first desk is carried fully, the ones after it by half
        for n, p in enumerate(previous):
            for k in ("phone", "email", "fax"):
                if p.get(k):
                    given.setdefault(str(p[k]).lower(), 1.0 if n == 0 else 0.5)
        meaning = self._meaning(question_vector)
        best: dict[str, tuple[float, ContactProfile]] = {}
        for i, (profile, raw) in enumerate(zip(self.profiles, scores, strict=True)):
            c = profile.contact
            if not superseded and self._retired[i] or named and self._regions[i] not in (None, named):
                continue
            glossary = self._glossary[i]
            score = self.lexical_weight * (float(raw) / top if top > 0 else 0.0) * (0.5 if glossary else 1.0)
            pointed = evidence(c.chunk_id, self._chunks[i])
            score += named_in(i) if not pointed else 0.0
            score += pointed * (self.glossary_factor if glossary else 1.0)
            name = self._names[i]
            if name:  # the share of the name's distinctive words the question uses, rarer words weighing more
                score += self.name_weight * sum(w for t, w in name.items() if t in asked) / sum(name.values())
            if meaning is not None and pointed > 0:  # meaning chooses among the desks the passages point at
                score += self.meaning_weight * float(meaning[i])
            contact_region = self._regions[i]
            if region and contact_region and contact_region != region:
                score *= 0.5  # and not carried: "what about our members in <region B>?" leaves region A's desk
            else:
                score += self.carry_weight * given.get(c.value.lower(), 0.0)
            if c.kind == "fax" and not asks_fax:
                score *= 0.5
            key = c.value.lower()
            if key not in best or score > best[key][0]:
                best[key] = (score, profile)
        ranked = sorted(best.values(), key=lambda x: -x[0])
        if not ranked or ranked[0][0] <= 0:
            return []
        out: list[Routed] = []
        used: set[str] = set()
        for score, profile in ranked:
            if score < ranked[0][0] * 0.8 or len(out) == limit:
                break
            routed = self._with_siblings(profile, score)
            values = {v.lower() for v in (routed.phone, routed.email, routed.fax) if v}
            if values & used:
                continue
            used |= values
            out.append(routed)
        return out

    def distinctive(self, tokens: set[str]) -> set[str]:
        """The tokens (stems) that say what a question is about: in few passages, and not everyday English."""
        return {t for t in tokens if self._idf.get(t, 0.0) > self._common_idf and english_zipf(t) < EVERYDAY_WORD}

    def _meaning(self, question_vector: np.ndarray | None) -> np.ndarray | None:
        """Each contact's closeness in meaning to the question: the cosine of the question with the sentence
        or row printing the contact, 0 at the median contact and 1 at the closest; 0 for a contact with no
        cached sentence vector. None without vectors."""
        if self._vectors is None or question_vector is None or not self.meaning_weight:
            return None
        cos = self._vectors @ (question_vector / max(float(np.linalg.norm(question_vector)), 1e-12))
        known = cos[self._has_vector]
        if not len(known):
            return None
        low, high = float(np.median(known)), float(known.max())
        return np.where(self._has_vector, np.clip((cos - low) / max(high - low, 1e-6), 0.0, 1.0), 0.0)

    def _named_in(self, hits: Sequence[Hit], distinctive: set[str]) -> Callable[[int], float]:
        """How strongly the retrieved passages point at a contact by naming its department without printing its
        number ("advanced imaging requires prior authorization from the Referral and Authorization Department"):
        as a passage printing it would, times ``NAMED_FACTOR``. Only where the sentence naming it shares a
        ``distinctive`` word of the question (a passage on sentinel events that sends privacy events "to the
        Compliance Office" does not point there for a fall), and only names with a distinctive word of their
        own ("Member Services" is named in passing everywhere). A sentence printing a number or an address is a
        directory row: it points at what it prints, which the evidence counts already, and the names beside it
        label those numbers (a contact table flattened into one sentence named every desk of 5.1)."""
        sentences: list[tuple[int, str, set[str]]] = []  # (rank, text, tokens), filled on the first name asked
        found: dict[str, float] = {}

        def weight(i: int) -> float:
            name = self._plain_names[i]
            if not name or not self._names[i] or not distinctive:
                return 0.0
            if not sentences:
                sentences.extend((r, " ".join(s.lower().split()), set(domain_tokens(s)))
                                 for r, h in enumerate(hits[:self.evidence_depth])
                                 for s in quotable_sentences(h.chunk.text)
                                 if not PHONE_RE.search(s) and not EMAIL_RE.search(s))
            if name not in found:
                rank = next((r for r, text, tokens in sentences if name in text and tokens & distinctive), None)
                found[name] = 0.0 if rank is None else NAMED_FACTOR * self.evidence_weight / (1 + rank)
            return found[name]

        return weight

    def _evidence(self, hits: Sequence[Hit]) -> Callable[[str, Chunk | None], float]:
        """How strongly the retrieved passages point at a contact: printed in a hit (by rank), else printed
        elsewhere in a hit's section, else in a contact table ("Whom to Contact") of a top document."""
        chunk_rank: dict[str, int] = {}
        section_rank: dict[tuple[str, str], int] = {}
        for r, h in enumerate(hits[:self.evidence_depth]):
            chunk_rank.setdefault(h.chunk.chunk_id, r)
            section_rank.setdefault((h.chunk.doc_id, h.chunk.section), r)
        doc_rank: dict[str, int] = {}
        for r, h in enumerate(hits[:3]):
            doc_rank.setdefault(h.chunk.doc_id, r)

        def weight(chunk_id: str, chunk: Chunk | None) -> float:
            if chunk_id in chunk_rank:
                return self.evidence_weight / (1 + chunk_rank[chunk_id])
            if chunk is None:
                return 0.0
            if (chunk.doc_id, chunk.section) in section_rank:
                return self.section_weight / (1 + section_rank[(chunk.doc_id, chunk.section)])
            if chunk.doc_id in doc_rank and _CONTACT_SECTION.search(chunk.section or ""):
                return self.document_weight / (1 + doc_rank[chunk.doc_id])
            return 0.0

        return weight

    def fallback(self, region: str | None) -> list[Routed]:
        """Where to turn when the sources do not answer: the contact the plan profile names for the region (a
        pattern found in the directory), else a general provider desk (``GENERAL_DESK``), else the phone number
        the documents print most often; named as routed contacts are. Looked up once per region; a number printed
        only in a superseded edition is never offered."""
        pattern = self.plan.fallback_for(region)
        key = (region, pattern or "")
        if key not in self._fallback:
            current = [i for i in range(len(self.profiles)) if not self._retired[i]]
            matches: list[int] = []
            for found in ([re.compile(pattern, re.IGNORECASE)] if pattern else []) + [GENERAL_DESK]:
                matches = [i for i in current if found.search(f"{self.profiles[i].department} "
                                                              f"{self.profiles[i].contact.context} "
                                                              f"{self.profiles[i].contact.value}")]
                if matches:
                    break
            if matches:
                matches.sort(key=lambda i: (self.profiles[i].contact.kind != "phone", self._regions[i] != region,
                                            self.profiles[i].contact.doc_id))
            else:  # the desk the documents send providers to most: the phone number they print most often
                printed = Counter(self.profiles[i].contact.value for i in current
                                  if self.profiles[i].contact.kind == "phone")
                ranked = sorted(current, key=lambda i: (-printed.get(self.profiles[i].contact.value, 0),
                                                        self.profiles[i].contact.doc_id, i))
                matches = [i for i in ranked if printed.get(self.profiles[i].contact.value)]
            self._fallback[key] = [self._with_siblings(self.profiles[matches[0]], 1.0)] if matches else []
        return self._fallback[key]

    def _superseded(self, contact: Contact) -> bool:
        chunk = self.snapshot.chunks.get(contact.chunk_id)
        return chunk is not None and chunk.status == "superseded"

    def carry(self, question: str, previous: Sequence[dict[str, Any]]) -> Routed | None:
        """For a follow-up that asks for "their" phone, e-mail or fax: the earlier answer's first
        department, with the kind of contact asked for when the directory has it."""
        kind = asked_kind(question)
        if kind is None or not previous:
            return None
        before = previous[0]
        values = {str(before.get(k)).lower() for k in ("phone", "email", "fax") if before.get(k)}
        department = str(before.get("department") or "")
        mine = [p for p in self.profiles if p.contact.value.lower() in values and not self._superseded(p.contact)]
        if not mine:
            return None
        rows = {(p.contact.chunk_id, p.department) for p in mine}
        words = self._name_words(department)
        family = [p for p in self.profiles if not self._superseded(p.contact) and (
            (p.contact.chunk_id, p.department) in rows or len(words & self._name_words(p.department)) >= 2)]
        wanted = [p for p in family if p.contact.kind == kind] or [p for p in mine]
        wanted.sort(key=lambda p: p.contact.chunk_id != before.get("source_chunk_id"))  # where the answer found it
        best = wanted[0]
        return self._with_siblings(best, 1.0)

    def _region(self, contact: Contact) -> str | None:
        chunk = self.snapshot.chunks.get(contact.chunk_id)
        return self.plan.region_of(chunk) if chunk else None

    def _name_words(self, department: str) -> set[str]:
        """The words of a department's name that tell it from other desks ("admission", "notification")."""
        return set(re.findall(r"[a-z]{4,}", department.lower())) - self._shared_name_words

    def has_kind(self, department: str, kind: str) -> bool:
        """Whether the directory has a current contact of ``kind`` under the department's name anywhere."""
        return any(p.department == department and p.contact.kind == kind and not self._superseded(p.contact)
                   for p in self.profiles)

    def _with_siblings(self, profile: ContactProfile, score: float) -> Routed:
        """The contact with the other numbers of the same department printed in the same passage."""
        c = profile.contact
        by_kind = {c.kind: c.value}
        for other in self.profiles:
            o = other.contact
            if o.chunk_id == c.chunk_id and o.kind not in by_kind and other.department == profile.department:
                by_kind[o.kind] = o.value
        if not {"phone", "email"} <= by_kind.keys():
            # the passage prints the desk's e-mail only (or phone only): where its document prints this value
            # beside the other one under the same name (its contact table), that passage is the source instead
            fuller = self._fuller(profile, set(by_kind))
            if fuller is not None:
                return self._with_siblings(fuller, score)
        purpose = _TABLE_CELL.sub(" ", c.context).strip()
        return Routed(department=profile.department, phone=by_kind.get("phone"), email=by_kind.get("email"),
                      fax=by_kind.get("fax"), purpose=purpose, region=self._region(c),
                      source_chunk_id=c.chunk_id, doc_id=c.doc_id, score=score)

    def _fuller(self, profile: ContactProfile, kinds: set[str]) -> ContactProfile | None:
        """The same desk and value printed in another current passage of the same document together with a
        phone or e-mail ``kinds`` lacks, or None."""
        c = profile.contact
        best: tuple[int, ContactProfile] | None = None
        for other in self.profiles:
            o = other.contact
            if o.value != c.value or o.chunk_id == c.chunk_id or o.doc_id != c.doc_id \
                    or other.department != profile.department or self._superseded(o):
                continue
            there = {p.contact.kind for p in self.profiles
                     if p.contact.chunk_id == o.chunk_id and p.department == profile.department}
            gained = len(({"phone", "email"} & there) - kinds)
            if gained and (best is None or gained > best[0]):
                best = (gained, other)
        return best[1] if best else None


# words of many desks' names (with the plan's and its regions' names): "<state> provider team" and "<state> ECM
# referral team" share two of them and are different desks
_SHARED_NAME_WORDS = frozenset({
    "team", "department", "services", "service", "unit", "line", "office", "desk", "help", "program",
    "programs", "customer", "provider", "providers", "contacts", "center"})
# a desk any plan has for providers' questions: where an unanswered question goes when the profile names none
GENERAL_DESK = re.compile(r"\bprovider\s+(?:services?|relations|customer\s+service|call\s+center|contact\s+center|"
                          r"help\s*desk|service\s+center)\b", re.IGNORECASE)


def asked_kind(question: str) -> str | None:
    """Which kind of contact a short follow-up asks for, if any."""
    q = question.lower()
    if re.search(r"\bfax", q):
        return "fax"
    if re.search(r"\be-?mail|\bemail address", q):
        return "email"
    if re.search(r"\b(phone|number|call|line|reach)\b", q):
        return "phone"
    return None


def _profile_vectors(profiles: Sequence[ContactProfile], chunks: Sequence[Chunk | None],
                     sentences: SentenceVectors) -> tuple[np.ndarray, np.ndarray]:
    """Each contact's vector (the cached vector of the quotable sentence or table row that prints it) and
    whether it has one."""
    rows = np.zeros((len(profiles), sentences.dimension), np.float32)
    has = np.zeros(len(profiles), bool)
    for i, (p, chunk) in enumerate(zip(profiles, chunks, strict=True)):
        if chunk is None:
            continue
        for sentence in quotable_sentences(chunk.text):
            if p.contact.value in sentence:
                v = sentences.get(sentence)
                if v is not None:
                    rows[i] = v
                    has[i] = True
                break
    return rows, has


def verify_contacts(routed: Sequence[Routed], snapshot: IndexSnapshot) -> list[Routed]:
    """Keep only contacts whose every value is printed verbatim in the passage cited for them."""
    kept = []
    for r in routed:
        chunk = snapshot.chunks.get(r.source_chunk_id)
        values = [v for v in (r.phone, r.email, r.fax) if v]
        if chunk is None or not all(v in chunk.text for v in values):
            log.error("contact %s failed verbatim verification against %s; dropped", values, r.source_chunk_id)
            continue
        kept.append(r)
    return kept
