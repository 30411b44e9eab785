"""The default answerer: extractive and grounded. It picks the source sentences that answer the
question, orders them action first, and marks each with its citation. Its only own words are short
connective templates."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answerability import region_tokens
from assistant.asks import asked_kinds, given_kinds, gives_quantity
from assistant.lexical import STOPWORDS
from assistant.profile import NEUTRAL, PlanProfile
from assistant.retrieval import Hit, domain_tokens
from assistant.schema import Chunk
from assistant.sentences import LIST_START, SentenceVectors, quotable_sentences

_ACTION = re.compile(r"^(?:call|send|submit|e-?mail|fax|mail|notify|report|contact|complete|return|sign|include|"
                     r"use|file|request|verify|attach|obtain|keep|ask|refer|tell|write|give|log in|sign in|go to)\b|"
                     r"\b(?:must|should|need to|are required to|is required to)\b", re.IGNORECASE)
# Sentences in an answer: the issue asks for about 2-4, short enough to read in a chat window. Measured
# 4 / 5 / 6: corpus passed 0.663 / 0.687 / 0.697, term recall 0.673 / 0.707 / 0.720, routing 0.886 / 0.895 / 0.899
# (a desk named in a quoted sentence counts), follow-up 0.829 / 0.829 / 0.857; real passed 0.390 / 0.398 / 0.415;
# median answer 85 / 104 / 122 words. The gain is mostly more text holding more of the expected words, so the
# limit stays at what the specification asks for.
MAX_SENTENCES = 4
# sentences one passage may give: a flattened table's rows are sentences too, and 2 left out the row asked
# for ("Expedited pre-service 72 hours") behind the table's lead-in (3: corpus passed 0.620 -> 0.624, real
# 0.350 -> 0.366)
PER_CHUNK = 3
MEANING_WEIGHT = 2.0  # tuned on the corpus questions: term recall 0.51 -> 0.55
# A table row ("State Programs | ... | Questions about ...") sharing none of the question's distinctive
# words is another row of the same table: every row of a contact table is about as close in meaning to "who
# helps with X", and they crowded out the row for X (corpus follow-up 0.714 -> 0.743, term recall 0.658 -> 0.663)
OFF_TOPIC_ROW = 0.3
# a reference-list entry loses this much (0.3 and 0.6 measured the same: real passed 0.415 -> 0.423)
REFERENCE_ENTRY = 0.3
# A run of at most this many sentences between headings that holds the best sentence is quoted whole.
# Measured 3 against none: corpus passed 0.693 -> 0.695 (4 answers gained their missing words, 3 lost one to the
# sentences it displaced), follow-up 0.857 -> 0.886; real unchanged.
SHORT_PASSAGE = 3
# A row of a questions-and-answers table whose question is the provider's own (most of its distinctive words)
# gains this much: a follow-up's carried topic otherwise outweighs the few words it adds.
FAQ_MATCH = 0.6
FAQ_BONUS = 0.3
# a sentence stating an amount, a percentage or a count ("Up to 50 details"), for a question asking how many or
# how much that is not a time (a time asked has its own bonus)
QUANTITY_BONUS = 0.2
_SHORT_CODE = re.compile(r"\b(?:[A-Z][A-Z0-9]|[A-Za-z][0-9])\b")


@dataclass(frozen=True)
class Sentence:
    text: str
    chunk: Chunk
    rank: int  # of its chunk in the retrieval
    position: int  # within its chunk
    block: int = 0  # which run of its chunk between headings ("5.5 Paper Claims") it is in
    lead: str = ""  # for an item of a list, the sentence introducing the list ("the child must:")


@dataclass(frozen=True)
class Picked:
    sentence: Sentence
    score: float


def candidate_sentences(hits: Sequence[Hit], limit: int = 6,
                        context: Callable[[Chunk], Sequence[Chunk]] | None = None) -> list[Sentence]:
    """The sentences of the top ``limit`` hits, and of the rest of each hit's section that ``context`` gives
    (ranked as if one place lower than the hit), each with the chunk it comes from."""
    out: list[Sentence] = []
    seen: set[str] = set()
    for rank, hit in enumerate(hits[:limit]):
        around = context(hit.chunk) if context else ()
        for chunk, chunk_rank in [(hit.chunk, rank), *((c, rank + 1) for c in around)]:
            if chunk.chunk_id in seen:
                continue
            seen.add(chunk.chunk_id)
            block = 0
            lead = ""
            for pos, text in enumerate(quotable_sentences(chunk.text)):
                if _is_heading_echo(text, chunk):
                    block += 1
                    lead = ""
                    continue
                if 12 <= len(text) <= 600:
                    out.append(Sentence(text, chunk, chunk_rank, pos, block, lead))
                if text.rstrip().endswith(":"):
                    lead = text
                elif lead and not _list_item(text):
                    lead = ""  # a full sentence after the items: the list has ended
    return out


def _list_item(text: str) -> bool:
    """An item of a list: a list marker, or no full stop at its end ("Inpatient room and board;", "o 18 and
    over, referral required after six (6) visits")."""
    return bool(LIST_START.match(text.lstrip())) or not text.rstrip().endswith((".", "!", "?"))


def _is_heading_echo(text: str, chunk: Chunk) -> bool:
    return any(text.strip().rstrip(".") == h.strip() for h in chunk.heading_path) or text == chunk.doc_title \
        or _looks_like_heading(text)


_NUMBERED_HEADING = re.compile(r"^\d+(?:\.\d+)+\s+[A-Z][^.!?]*$")


def _looks_like_heading(text: str) -> bool:
    """A heading of another section caught in the text ("9.4.1 Compliance and FWA Training", "Split
    Claims"): says nothing on its own. Table rows (they carry a number) and sentences are kept."""
    text = text.strip()
    if _NUMBERED_HEADING.match(text):
        return True
    words = text.split()
    return (len(words) <= 6 and not re.search(r"[.!?:;,|]$|\d", text)
            and sum(w[:1].isupper() for w in words) >= max(2, len(words) - 1))


def _fold(token: str) -> str:
    """A stem without a final e, for matching a question with a FAQ row: the light stemmer leaves "certificate"
    whole but cuts "certificates" to "certificat" (and "services" to "servic"). Not used for the word overlap
    of every sentence: there it moved answers that were right (corpus term recall unchanged, one answer lost
    "Balance Billing")."""
    return token[:-1] if len(token) > 4 and token.endswith("e") else token


def _words(text: str) -> list[str]:
    return [_fold(t) for t in domain_tokens(text)]


def score_sentence(s: Sentence, query_tokens: dict[str, float], question: str, urgent: bool,
                   meaning: float = 0.0, distinctive: frozenset[str] | None = None,
                   own: frozenset[str] = frozenset()) -> float:
    """Words shared with the question (rarer words count more), the sentence's rank and place, cues for
    what the question asks (a time, a contact, an urgent duty) and ``meaning``: its cosine similarity
    to the question, weighted. A table row with none of the ``distinctive`` words of the question (when
    given) loses ``OFF_TOPIC_ROW``."""
    tokens = set(domain_tokens(s.text))
    # A list item ("Scan the signed form and e-mail it") is about what its headings and the sentence introducing
    # it ("Only these services are covered for inmates:") say it is about.
    context = set(domain_tokens(" ".join((*s.chunk.heading_path, s.lead)))) - tokens
    total = sum(query_tokens.values()) or 1.0
    overlap = (sum(w for t, w in query_tokens.items() if t in tokens)
               + 0.6 * sum(w for t, w in query_tokens.items() if t in context)) / total
    score = overlap + meaning + 0.25 / (1 + s.rank) + 0.04 / (1 + s.position)
    wanted = asked_kinds(question)
    given = given_kinds(s.text) if wanted else frozenset()
    if "time" in wanted & given:
        score += 0.25
    if "contact" in wanted & given:
        score += 0.2
    if "quantity" in wanted and gives_quantity(s.text):
        score += QUANTITY_BONUS
    if urgent and re.search(r"\b(notify|report|immediately|within 24 hours|call)\b", s.text, re.IGNORECASE):
        score += 0.3
    if len(s.text) > 250:  # table rows run together: hard to read as an answer
        score -= 0.15 + 0.15 * (len(s.text) > 400)
    if distinctive is not None and "|" in s.text and not distinctive & tokens:
        score -= OFF_TOPIC_ROW
    if is_reference_entry(s.text, s.chunk):
        score -= REFERENCE_ENTRY
    if len(own) >= 2 and faq_match(s.text, own):
        score += FAQ_BONUS
    return score


def faq_match(text: str, own: frozenset[str]) -> bool:
    """Whether a row of a questions-and-answers table asks what the provider asked: its first cell is a
    question holding most (``FAQ_MATCH``) of the distinctive words of the provider's own question ("do we send
    the completion certificates to you?" and "Do I send my certificate to the plan? | Not routinely.")."""
    cell = text.split("|", 1)[0].strip() if "|" in text else ""
    return cell.endswith("?") and len(own & set(_words(cell))) >= FAQ_MATCH * len(own)


# a handbook's list of references: publication titles in quotes and lettered citations ('a) State Medicaid
# Publications “Emergency Services for Non-Citizens.”') name where a rule is written, they do not state it
_REFERENCES_SECTION = re.compile(r"^(?:\d+(?:\.\d+)*\s+)?References\b", re.IGNORECASE)
_CITATION_ENTRY = re.compile(r"^(?:[a-z]\)\s|[“\"])")


def is_reference_entry(text: str, chunk: Chunk) -> bool:
    return bool(_REFERENCES_SECTION.search(chunk.section) or _CITATION_ENTRY.search(text.strip()))


def pick_sentences(hits: Sequence[Hit], question: str, query: str, idf: dict[str, float], *,
                   urgent: bool = False, vectors: SentenceVectors | None = None,
                   question_vector: np.ndarray | None = None,
                   context: Callable[[Chunk], Sequence[Chunk]] | None = None,
                   common: frozenset[str] = frozenset(), profile: PlanProfile = NEUTRAL) -> list[Picked]:
    """The few sentences that answer: the best, then others close to it, at most ``PER_CHUNK`` per chunk. With
    sentence vectors and the question's vector, meaning counts beside shared words."""
    # words of three letters or more, and two-character acronyms and codes the question writes as such ("HC", "A1")
    codes = {w.lower() for w in _SHORT_CODE.findall(query)}
    weights = {t: idf.get(t, 1.0) for t in domain_tokens(query)
               if t not in STOPWORDS and (len(t) > 2 or (t in codes and t in idf))}
    # what the question is about: its words but those most passages use (``common``: the plan's name, "member")
    # and region names (in a question naming a region, every row of that region's table names it too)
    distinctive = frozenset(weights.keys() - common - region_tokens(query, profile))
    # the provider's own words, for a FAQ row that asks the same
    places = region_tokens(question, profile)
    own = frozenset(_fold(t) for t in domain_tokens(question) if t not in STOPWORDS and len(t) > 2
                    and t not in common and t not in places)

    def meaning(s: Sentence) -> float:
        if vectors is None or question_vector is None:
            return 0.0
        return MEANING_WEIGHT * (vectors.similarity(question_vector, s.text) or 0.0)

    scored = sorted((Picked(s, score_sentence(s, weights, question, urgent, meaning(s), distinctive, own))
                     for s in candidate_sentences(hits, context=context)), key=lambda p: -p.score)
    if not scored:
        return []
    best = scored[0].score
    # a short passage holding the best sentence is quoted whole: its few sentences make one answer ("pay by EFT.
    # To enroll, contact EDI Support. Enrollment takes about 30 days.") whatever words each shares with the question
    def home(p: Picked) -> bool:
        return (p.sentence.chunk.chunk_id, p.sentence.block) == (scored[0].sentence.chunk.chunk_id,
                                                                 scored[0].sentence.block)

    whole = [p for p in scored if home(p)]
    if len(whole) <= SHORT_PASSAGE:
        scored = [*whole, *(p for p in scored if not home(p))]
    picked: list[Picked] = []
    per_chunk: dict[str, int] = {}
    seen_text: set[str] = set()
    for p in scored:
        key = re.sub(r"\W+", " ", p.sentence.text.lower()).strip()
        short = len(whole) <= SHORT_PASSAGE and home(p)
        if key in seen_text or (p.score < best * 0.6 and not short) \
                or per_chunk.get(p.sentence.chunk.chunk_id, 0) >= PER_CHUNK:
            continue
        if any(_near_duplicate(key, other) for other in seen_text):
            continue
        picked.append(p)
        seen_text.add(key)
        per_chunk[p.sentence.chunk.chunk_id] = per_chunk.get(p.sentence.chunk.chunk_id, 0) + 1
        if len(picked) == MAX_SENTENCES:
            break
    return _with_leads(picked, scored)


def _with_leads(picked: list[Picked], scored: Sequence[Picked]) -> list[Picked]:
    """Each picked list item with the sentence introducing its list ("Only these services are covered for
    inmates:" before "Inpatient room and board;"): an item alone does not say what it is an item of."""
    have = {(p.sentence.chunk.chunk_id, p.sentence.text) for p in picked}
    out = list(picked)
    for p in picked:
        lead = p.sentence.lead
        if not lead or (p.sentence.chunk.chunk_id, lead) in have:
            continue
        found = next((q for q in scored if q.sentence.chunk.chunk_id == p.sentence.chunk.chunk_id
                      and q.sentence.text == lead), None)
        if found is not None:
            out.append(Picked(found.sentence, p.score))
            have.add((p.sentence.chunk.chunk_id, lead))
    return out


def _near_duplicate(a: str, b: str) -> bool:
    wa, wb = set(a.split()), set(b.split())
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) > 0.7


def order_for_reading(picked: Sequence[Picked]) -> list[Picked]:
    """The best answer first, then the action the provider must take, then the rest by score; sentences
    of one chunk stay in their document order."""
    def key(p: Picked) -> tuple[int, float]:
        return (0 if _ACTION.search(p.sentence.text) else 1, -p.score)

    if not picked:
        return []
    best = max(picked, key=lambda p: p.score)
    ordered = [best] + sorted((p for p in picked if p is not best), key=key)
    by_chunk: dict[str, list[Picked]] = {}
    for p in ordered:
        by_chunk.setdefault(p.sentence.chunk.chunk_id, []).append(p)
    out: list[Picked] = []
    for p in ordered:
        group = by_chunk.pop(p.sentence.chunk.chunk_id, None)
        if group:
            out += sorted(group, key=lambda g: g.sentence.position)
    return out
