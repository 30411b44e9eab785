"""The assistant: a question (and its conversation) in, a grounded answer in the contract's JSON out."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from assistant.adapter import query_adapter
from assistant.answer import Picked, order_for_reading, pick_sentences
from assistant.answerability import FRAME_WORDS, VALUE_NAMES, Answerability, Gap, proper_names
from assistant.contacts import EMAIL_RE, PHONE_RE
from assistant.conversations import ConversationStore, Turn, new_id
from assistant.embeddings import Embedder, SentenceTransformerEmbedder
from assistant.index import IndexSnapshot
from assistant.lexical import STOPWORDS, plain_tokens
from assistant.lexicon import LAY_TERMS
from assistant.llm import AnswerWriter, Source, grounding_problems
from assistant.phi import PhiScreen
from assistant.profile import PlanProfile, from_stored
from assistant.retrieval import Hit, HybridRetriever, Retrieval, stem, wants_old_edition
from assistant.routing import EVERYDAY_WORD, ContactRouter, Routed, asked_kind, verify_contacts
from assistant.safety import screen
from assistant.schema import Chunk
from assistant.sentences import SentenceVectors, quotable_sentences, sentence_vectors
from assistant.settings import Settings
from assistant.vocabulary import Vocabulary, english_zipf

log = logging.getLogger(__name__)

_REFERS = re.compile(r"\b(their|they|them|theirs|it|its|that|this|those|these|there|he|she|his|her|same|"
                     r"one|ones|else|instead|too|also)\b", re.IGNORECASE)
# "different question", "new topic": the provider says the turn stands alone
_NEW_TOPIC = re.compile(r"\b(?:diff(?:erent)?|new|separate|unrelated|another|other|switching) "
                        r"(?:question|topic|subject|q)\b|\bchanging (?:the )?(?:subject|topic)\b", re.IGNORECASE)
# "the" and the one or two words after it ("the request", "the paper ones")
_DEFINITE = re.compile(r"\bthe ((?:[a-z-]+ )?[a-z-]+)", re.IGNORECASE)
_CONTINUES = re.compile(r"^\s*(and|also|or|but|so|what about|how about|what if|same for|then)\b", re.IGNORECASE)
# How much a follow-up's own words count beside the carried topic. Their question frame ("how long does it
# take", "how much notice") alone matches whatever section is about deadlines; the topic must lead.
ALONE_WEIGHT = 0.25
# "how much notice do they need?" after the interpreter question: the carried topic's search puts Interpreter
# Services far ahead, the follow-up's own words find notice periods anywhere; the topic's clear winner stays
# first (corpus hit@5 0.827 -> 0.830; 1.3 gave the same)
CLEAR_WINNER = 1.5
COMMON_SHARE = 0.3  # a token in more than this share of chunks says nothing of what a question is about
MAX_CONTACT_QUOTE = 300  # characters
# Two sentences this close in meaning (cosine of their vectors) but printing other numbers say the same thing
# differently: "A claim must arrive within 90 days of the date of service" and "... within 180 days ..." are 0.97.
DIFFERS_SIMILARITY = 0.9
DIFFERS_DEPTH = 5  # the passages looked through for a sibling's sentence
# ... and the words of the two (without their numbers) this much the same (shared over all): one sentence in two
# editions of a manual, not two sentences that mention the same years ("the 2025 edition replaces the 2018 one" and
# "Sections 1 and 2: the 2025 edition is current" are 0.9 close in meaning)
DIFFERS_WORDS = 0.7
_LETTERS = re.compile(r"[a-z]+")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
ABSTAIN_TEXT = "The provider manual and program pages I have do not cover this question{}, so I can't answer it."
# Every word the assistant's own sentences may say besides the sources' (see Assistant._without_echo)
TEMPLATE_WORDS = frozenset(re.findall(r"[a-z0-9]+", " ".join([
    ABSTAIN_TEXT, "Please contact at", "Urgent: act now.", "From the superseded earlier edition",
    "The documents differ on this.",
    "(Approved by provider relations.)", "Contact: fax",
    "The sources give no phone number e-mail address fax number for",
    *(Gap(reason, "day").explain() for reason in ("amount", "address", "duration", "code", "unfound", "program",
                                                  "place", "name", "coverage", "use", "request", "off_topic")),
    *(Gap("stated", kind).explain() for kind in VALUE_NAMES),
]).lower()))


@dataclass
class Confidence:
    """How sure retrieval is that the sources answer: rarity-weighted word coverage and dense similarity."""

    coverage: float
    top_dense: float
    unknown_share: float = 0.0  # share of the question's words no document uses

    @property
    def value(self) -> float:
        dense = min(1.0, max(0.0, (self.top_dense - 0.2) / 0.5))
        return round(max(0.0, 0.3 * self.coverage + 0.7 * dense - 0.25 * self.unknown_share), 4)


@dataclass
class Prepared:
    """Everything decided before the answer is written (shared by the extractive and LLM writers)."""

    conversation_id: str
    message_id: str
    question: str
    query: str
    region: str | None
    retrieval: Retrieval | None
    confidence: Confidence
    urgent: bool
    phi: tuple[str, ...]
    injection: bool
    follow_up: bool
    timings: dict[str, float] = field(default_factory=dict)
    previous_contacts: list[dict[str, Any]] = field(default_factory=list)  # of the turn a follow-up leans on
    question_vector: np.ndarray | None = None  # the question's own words, for choosing answer sentences
    gap: Gap | None = None  # what the question asks for that the sources lack
    previous_answer: str = ""  # the answer text of the turn a follow-up leans on
    documents: frozenset[str] | None = None  # the ones a name in the question says it is about (named_document)


class ApprovedAnswers(Protocol):
    """Answers provider relations approved for a question (served verbatim for the same question)."""

    def approved_answer(self, question: str) -> dict[str, Any] | None: ...


def merge_retrievals(first: Retrieval, second: Retrieval, k: int = 60, weight: float = 1.0) -> Retrieval:
    """Two rankings of one question fused by reciprocal rank (the first keeps its query and signals). Fusing
    by rank forgets by how much the first ranking's best beat its second: a clear winner (``CLEAR_WINNER``
    times the runner-up's score) stays first."""
    scores: dict[str, float] = {}
    hits: dict[str, Any] = {}
    for w, ranking in ((1.0, first.hits), (weight, second.hits)):
        for rank, hit in enumerate(ranking):
            scores[hit.chunk.chunk_id] = scores.get(hit.chunk.chunk_id, 0.0) + w / (k + rank)
            hits.setdefault(hit.chunk.chunk_id, hit)
    ordered = [hits[c] for c in sorted(scores, key=lambda c: -scores[c])]
    best = first.hits[:2]
    if len(best) == 2 and best[0].score >= CLEAR_WINNER * best[1].score:
        ordered = [best[0], *(h for h in ordered if h.chunk.chunk_id != best[0].chunk.chunk_id)]
    return Retrieval(ordered, first.query, first.top_dense)


def is_follow_up(question: str, history: Sequence[Turn], topical: Callable[[str], bool] | None = None) -> bool:
    """A later turn that leans on the earlier ones: it continues one ("and expedited ones?", "what about
    urgent?"), refers back ("what's their phone number?", "where do i fax the request now", "does that apply to
    dental claims too?"), or names no topic at all. A question with a topic of its own and nothing pointing back
    ("how long do we have to file a claim?" after an injury report) is a new question, not a follow-up: it must
    not inherit the earlier topic or desk. ``topical`` says whether a word names a topic (without it, any short
    question is taken as a follow-up)."""
    if not history:
        return False
    content = [t for t in plain_tokens(question) if len(t) > 2]
    if topical is None:
        return len(content) <= 6 or (len(content) <= 9 and bool(_REFERS.search(question) or
                                                                 _CONTINUES.search(question)))
    if _NEW_TOPIC.search(question):
        return False
    if len(content) <= 9 and (_CONTINUES.search(question) or _REFERS.search(question)
                              or _names_again(question, history[-1].resolved_query, topical)):
        return True
    return not any(topical(t) for t in content)


def _names_again(question: str, before: str, topical: Callable[[str], bool]) -> bool:
    """Whether the question names with "the" a thing the earlier turn was about ("where do i fax the request
    now" after a question about an authorization request)."""
    earlier = {stem(t) for t in plain_tokens(before) if len(t) > 2}
    return any(stem(w) in earlier and topical(w) for m in _DEFINITE.finditer(question) for w in m.group(1).split())


class Assistant:
    """Retrieval, the answer, contact routing and memory over one loaded index."""

    def __init__(self, settings: Settings, snapshot: IndexSnapshot, embedder: Embedder,
                 conversations: ConversationStore | None = None, writer: AnswerWriter | None = None,
                 approved: ApprovedAnswers | None = None) -> None:
        self.settings = settings
        self.snapshot = snapshot
        self.embedder = embedder
        self.vocabulary = Vocabulary.learn(c.text for c in snapshot.chunks.values())
        self.components = settings.components
        # what the deployer says about the plan: the file PA_PROFILE names, else the one ingest kept with the index
        self.profile = PlanProfile.read(settings.profile) if settings.profile else from_stored(snapshot.profile)
        self.vocabulary.aliases = self.profile.plan_names
        self.sentence_vectors = sentence_vectors(settings.data_dir, snapshot, embedder)
        adapter = None
        if self.components.on("query_adapter"):
            try:
                adapter = query_adapter(settings.data_dir, snapshot, embedder, self.sentence_vectors)
            except Exception:  # worse ranking, never no answer
                log.exception("fitting the query adapter failed; searching with the model's own vectors")
        self.all_text = "\n".join(c.text for c in snapshot.chunks.values())
        # the names the documents print (organisations, programs, systems): which documents a question is about
        names = proper_names(self.all_text)
        self.retriever = HybridRetriever(snapshot, embedder, self.vocabulary, adapter=adapter,
                                         sentences=self.sentence_vectors, components=self.components,
                                         profile=self.profile, names=names)
        self.router = ContactRouter(snapshot, self.retriever.idf, sentences=self.sentence_vectors, plan=self.profile)
        self.conversations = conversations or ConversationStore(settings.data_dir / "conversations.sqlite3")
        self.writer = writer
        self.approved = approved
        # the member-identifier screen knows the sources: their words are no member's name, the numbers and
        # addresses they print are the plan's
        self.phi = PhiScreen.from_sources(self.all_text, [c.value for c in snapshot.contacts])
        titles = " ".join({c.doc_title for c in snapshot.chunks.values()})  # an answer may say which document
        self._source_words = frozenset(re.findall(r"[a-z0-9]+", f"{self.all_text} {titles}".lower()))
        # the regions the documents name: what a client may ask to be answered for
        self.regions = frozenset(r for r in map(self.profile.region_of, snapshot.chunks.values()) if r)
        self.answerability = Answerability(self.all_text, vocabulary=self.vocabulary,
                                           common=self.retriever.common_tokens(COMMON_SHARE),
                                           components=self.components, profile=self.profile,
                                           contacts=snapshot.contacts, proper=names)

    @classmethod
    def from_settings(cls, settings: Settings, embedder: Embedder | None = None,
                      writer: AnswerWriter | None = None, conversations: ConversationStore | None = None,
                      approved: ApprovedAnswers | None = None) -> Assistant:
        embedder = embedder or SentenceTransformerEmbedder.from_settings(settings)
        snapshot = IndexSnapshot.open(settings)
        snapshot.index.check_model(embedder.name)
        if writer is None and settings.llm_base_url:
            from assistant.llm import ChatModelWriter

            writer = ChatModelWriter.from_settings(settings)
        return cls(settings, snapshot, embedder, conversations=conversations, writer=writer, approved=approved)

    def reloaded(self) -> Assistant:
        """The same assistant over the index as it is now (a completed ingest): the model, the writer, the
        conversations and the approved answers carry over."""
        return Assistant.from_settings(self.settings, self.embedder, self.writer, self.conversations, self.approved)

    def ask(self, question: str, conversation_id: str | None = None, region: str | None = None) -> dict[str, Any]:
        """Answer one question in the contract's JSON shape, and remember it in its conversation."""
        return self.ask_with_evidence(question, conversation_id, region)[0]

    def ask_with_evidence(self, question: str, conversation_id: str | None = None,
                          region: str | None = None) -> tuple[dict[str, Any], Prepared]:
        """The answer and what was decided on the way (retrieval hits, confidence): the evaluation
        scores both from this one path."""
        prepared = self.prepare(question, conversation_id, region)
        started = time.perf_counter()
        answer = self.compose(prepared)
        if not answer.get("approved"):  # staff wrote an approved answer; it may name what the question names
            answer["answer"] = self._without_echo(answer["answer"], question)
        prepared.timings["answer"] = round((time.perf_counter() - started) * 1000, 2)
        prepared.timings["total"] = round(sum(v for k, v in prepared.timings.items() if k != "total"), 2)
        answer["timings_ms"] = dict(prepared.timings)
        self.conversations.add(prepared.conversation_id, prepared.message_id, prepared.question, prepared.query,
                               answer)
        return answer, prepared

    def prepare(self, question: str, conversation_id: str | None, region: str | None) -> Prepared:
        started = time.perf_counter()
        screened = screen(question, self.phi)
        conv_id = self.conversations.ensure(conversation_id, region)
        history = self.conversations.turns(conv_id) if conversation_id else []
        follow = is_follow_up(screened.question, history,
                              self._topical if self.components.on("topic_change") else None)
        query = screened.question.replace("[redacted]", " ")
        if follow:
            query = f"{history[-1].resolved_query} {query}"
        region = region or self.profile.detect_region(query) or self.conversations.region(conv_id) or (
            history[-1].answer.get("region") if history else None)
        urgent = screened.urgent
        cited = history[-1].answer.get("citations", []) if follow else []
        boost = [c["doc_id"] for c in cited]
        near = [(c["doc_id"], c["section"]) for c in cited]
        prepared_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        retrieval = None
        question_vector = None
        confidence = Confidence(0.0, 0.0)
        # names only some documents print, read once: they rank, guard and introduce the answer
        names = self.retriever.document_names(query) if self.components.on("named_document") else set()
        documents = self.retriever.documents_of(names)
        if screened.question.strip() and len(plain_tokens(screened.question)) > 0:
            old = wants_old_edition(screened.question, history[-1].resolved_query if follow else "")
            # A follow-up's own words ("what's their email?") lack the topic: their meaning would pull in any
            # sentence about e-mail, so its sentences are chosen by words and rank alone.
            own_words = None if follow else screened.question.replace("[redacted]", " ")
            retrieval = self.retriever.search(query, k=10, region=region, boost_docs=boost, boost_sections=near,
                                              old_edition=old, also_embed=own_words, asking=screened.question,
                                              names=names)
            question_vector = retrieval.also_vector
            if follow and len(plain_tokens(screened.question)) >= 3 and self.components.on("follow_up_merge"):
                # the later turn may have moved on: its own words get a say beside the carried topic
                alone = self.retriever.search(screened.question, k=10, region=region, old_edition=old)
                retrieval = merge_retrievals(retrieval, alone, weight=ALONE_WEIGHT)
            confidence = Confidence(self.retriever.coverage(query, retrieval.hits[:5]), retrieval.top_dense,
                                    self.unknown_share(screened.question))
            if urgent:  # the notification duty first, whatever words the event was described in
                duty = self.retriever.search(self.profile.urgent_query, k=3)
                first = {h.chunk.chunk_id for h in duty.hits[:3]}
                retrieval = Retrieval(duty.hits[:3] + [h for h in retrieval.hits if h.chunk.chunk_id not in first],
                                      f"{self.profile.urgent_query} {retrieval.query}", retrieval.top_dense)
        gap = None
        if retrieval is not None and not urgent:
            gap = self.answerability.gap(screened.question, query, [h.chunk for h in retrieval.hits], region,
                                         documents=documents,
                                         document_names=frozenset(names) if documents else frozenset())
        timings = {"screen": round(prepared_ms, 2), "retrieve": round((time.perf_counter() - started) * 1000, 2)}
        return Prepared(conv_id, new_id("m"), screened.redacted, query, region, retrieval, confidence, urgent,
                        screened.phi, screened.injection, follow, timings,
                        list(history[-1].answer.get("contacts", [])) if follow else [], question_vector, gap,
                        str(history[-1].answer.get("answer", "")) if follow else "", documents)

    def _topical(self, word: str) -> bool:
        """Whether a question word names a topic: a word of the documents that few passages use and everyday
        English does not ("claim", "referral", "sentinel"; not "usually", "back", "take")."""
        token = stem(word)
        return (token not in STOPWORDS and token in self.retriever.idf and token not in self.answerability.common
                and token not in FRAME_WORDS and english_zipf(word) < EVERYDAY_WORD)

    def unknown_share(self, question: str) -> float:
        """How much of the question is about things no document mentions (after spelling correction)."""
        words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if len(w) > 3 and w not in STOPWORDS
                 and w not in LAY_TERMS and w != "redacted"]
        unknown = [w for w in words if w not in self.vocabulary.words and self.vocabulary.correct(w) == w]
        return len(unknown) / len(words) if words else 1.0

    def abstains(self, prepared: Prepared) -> bool:
        if prepared.retrieval is None or not prepared.retrieval.hits:
            return True
        if prepared.urgent:
            return False
        return prepared.gap is not None or (self.components.on("low_confidence")
                                            and prepared.confidence.value < self.settings.abstain_below)

    def compose(self, prepared: Prepared) -> dict[str, Any]:
        base = {"conversation_id": prepared.conversation_id, "message_id": prepared.message_id,
                "urgent": prepared.urgent, "phi_detected": bool(prepared.phi), "region": prepared.region,
                "confidence": prepared.confidence.value, "follow_up": prepared.follow_up,
                "injection_detected": prepared.injection}
        found = self.approved.approved_answer(prepared.question) if self.approved else None
        if found:
            current = self._current_citations(found["citations"])
            if current is None:  # the manual changed under the approved answer: answer from it as it is now
                log.warning("approved answer %s cites text the current index no longer has; not served",
                            found["id"])
                found = None
            else:
                found = {**found, "citations": current}
        if found:
            text = self._verified(f"{found['answer']} (Approved by provider relations.)")
            first = found["citations"][0] if found["citations"] else {"doc_title": "", "section": ""}
            return {**base, "answer": text, "citations": found["citations"], "contacts": [], "abstained": False,
                    "category": self.profile.category((first["doc_title"], first["section"])), "approved": True,
                    "approved_id": found["id"]}
        if self.abstains(prepared):
            contacts = verify_contacts(self.router.fallback(prepared.region or self.profile.default_region),
                                       self.snapshot)
            text = ABSTAIN_TEXT.format(f" ({prepared.gap.explain()})" if prepared.gap else "")
            text += "".join(f" Please contact {c.department} at {_values(c)}." for c in contacts[:1])
            return {**base, "answer": text, "citations": [], "contacts": [c.to_dict() for c in contacts[:1]],
                    "abstained": True, "category": "general",
                    "abstain_reason": prepared.gap.reason if prepared.gap else "low_confidence"}
        assert prepared.retrieval is not None
        hits = prepared.retrieval.hits
        carried = self.router.carry(prepared.question, prepared.previous_contacts)
        kind = asked_kind(prepared.question)
        if carried and kind and not getattr(carried, kind) and prepared.follow_up \
                and asks_only_for_contact(prepared.question) and not _printed(kind, prepared.previous_answer) \
                and not self.router.has_kind(carried.department, kind):
            # "what's their phone number?" of a desk the sources give only an e-mail for: searching for
            # "phone number" would quote any sentence with one; say what there is instead. Not when the answer
            # before printed one: "their" may be whoever that number belongs to
            contact = self._contact_answer(base, prepared, carried, kind)
            if contact is not None:
                return contact
        # an answer introduced as the superseded edition's quotes that edition only: a current page's sentence
        # under that label would pass today's rule off as the old one, or the old one as today's
        on = self.components.on
        superseded = hits[0].chunk.status == "superseded"
        quoted = [h for h in hits if h.chunk.status == "superseded"] if superseded else hits
        picked = order_for_reading(pick_sentences(quoted, prepared.question, prepared.retrieval.query,
                                                  self.retriever.idf, urgent=prepared.urgent,
                                                  vectors=self.sentence_vectors if on("answer_meaning") else None,
                                                  question_vector=prepared.question_vector,
                                                  context=self.snapshot.section_context if on("answer_context")
                                                  else None,
                                                  common=self.answerability.common, profile=self.profile))
        quotes = [(p.sentence.chunk, p.sentence.text) for p in picked]
        # sibling manuals answering one question differently: the other's sentence is quoted beside, and said
        other = self._differing(picked, hits, prepared) if picked and not superseded else None
        if other is not None:
            quotes.append(other)
        citations, sentences = cite(quotes)
        if other is not None:
            sentences[0] = f"The documents differ on this. {picked[0].sentence.chunk.doc_title}: {sentences[0]}"
            sentences[-1] = f"{other[0].doc_title}: {sentences[-1]}"
        routed = self.router.route(prepared.question, prepared.retrieval.query, hits, prepared.region,
                                   superseded=superseded,
                                   previous=prepared.previous_contacts,
                                   question_vector=prepared.question_vector, urgent=prepared.urgent)
        if carried:  # "what's their email?": the department of the earlier answer, the kind asked for
            routed = [carried, *[r for r in routed if r.department != carried.department]][:2]
        routed = verify_contacts(routed, self.snapshot)
        # a writer's answer would lose the label that the documents differ: the quoted one stands then
        text = self._verified(self._write(prepared, sentences, citations, routed, rewrite=other is None))
        top = hits[0].chunk
        intro = "Urgent: act now. " if prepared.urgent else ""
        if superseded:
            intro += f"From the superseded {top.edition or 'earlier'} edition ({top.doc_title}): "
        elif citations and on("named_document") and other is None:
            # sibling manuals answer differently: the one a name in the question chose is said
            named = prepared.documents
            if named is not None and len(named) == 1 and {c["doc_id"] for c in citations} <= named:
                intro += f"From {citations[0]['doc_title']}: "
        return {**base, "answer": intro + text, "citations": citations, "contacts": [r.to_dict() for r in routed],
                "abstained": False, "category": self.profile.category((top.doc_title, top.section))}

    def _differing(self, picked: Sequence[Picked], hits: Sequence[Hit], prepared: Prepared) -> tuple[Chunk, str] | None:
        """A sentence of another document among the top passages that says what the answer's first sentence says
        but with other numbers (a sibling manual's 180 days against this one's 90): close in meaning
        (``DIFFERS_SIMILARITY``) and in words (``DIFFERS_WORDS``), a number of each printed where the other has
        another. Not when the question names which documents it is about, nor from another region's document
        than the question's, nor from a superseded edition (the current one answers; the old one is quoted when
        asked for), nor a sentence the answer quotes already."""
        vectors: SentenceVectors | None = self.sentence_vectors  # None: a test's assistant without them
        if vectors is None or not self.components.on("named_document") or len(self.retriever.documents) < 2 \
                or prepared.documents is not None:
            return None
        region = prepared.region
        lead = picked[0].sentence
        numbers = set(_DIGITS.findall(lead.text))
        words = set(_LETTERS.findall(lead.text.lower()))
        lead_vector = vectors.get(lead.text)
        if not numbers or lead_vector is None:
            return None
        quoted = {p.sentence.text for p in picked}
        for h in hits[:DIFFERS_DEPTH]:
            chunk_region = self.profile.region_of(h.chunk)
            if h.chunk.doc_id == lead.chunk.doc_id or h.chunk.status == "superseded" \
                    or (region and chunk_region and chunk_region != region):
                continue
            for text in quotable_sentences(h.chunk.text):
                if text in quoted:
                    continue
                other = set(_DIGITS.findall(text))
                if not other - numbers or not numbers - other:  # a number in place of another, not one added
                    continue
                theirs = set(_LETTERS.findall(text.lower()))
                if len(words & theirs) < DIFFERS_WORDS * len(words | theirs):
                    continue
                similarity = vectors.similarity(lead_vector, text)  # both unit vectors: their cosine
                if similarity is not None and similarity >= DIFFERS_SIMILARITY:
                    return h.chunk, text
        return None

    def _current_citations(self, citations: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """An approved answer's citations pointed at the index as it is now: a chunk a re-ingest replaced is
        swapped for the current chunk of the same document that still holds the quoted text. None when a quote
        is in no current chunk (the approved answer no longer matches the manual)."""
        out: list[dict[str, Any]] = []
        for c in citations:
            chunk = self.snapshot.chunks.get(c.get("chunk_id", ""))
            if chunk is None:
                quote = " ".join(str(c.get("quote", "")).split())
                chunk = next((k for k in self.snapshot.chunks.values() if k.doc_id == c.get("doc_id")
                              and quote and all(" ".join(q.split()) in " ".join(k.text.split())
                                                for q in quote.split(" … "))), None)
                if chunk is None:
                    return None
            out.append({**citation(int(c.get("n", len(out) + 1)), chunk, []), "quote": c.get("quote", "")})
        return out

    def _contact_answer(self, base: dict[str, Any], prepared: Prepared, carried: Routed,
                        kind: str) -> dict[str, Any] | None:
        """A follow-up asking for a ``kind`` of contact (phone, e-mail, fax) the department named before does
        not have: says so, and quotes the contacts it has from the passage that prints them. None when that
        passage has no short sentence to quote (the caller answers from retrieval instead)."""
        routed = verify_contacts([carried], self.snapshot)
        chunk = self.snapshot.chunks.get(carried.source_chunk_id)
        if not routed or chunk is None:
            return None
        values = [v for v in (carried.phone, carried.email, carried.fax) if v]
        # sentences that print this department's contacts and no other desk's; a whole flattened contact
        # table is no answer
        quoted = [s for s in quotable_sentences(chunk.text) if any(v in s for v in values)
                  and set(contacts_in_text(s)) <= set(values) and len(s) <= MAX_CONTACT_QUOTE][:2]
        if not quoted:
            return None
        citations, sentences = cite([(chunk, s) for s in quoted])
        missing = f"The sources give no {_KIND_NAMES[kind]} for {carried.department}. "
        # extractive only: a model given the whole passage could name another desk's number right after
        text = self._verified(f"{missing}{' '.join(sentences)} {contact_line(routed, prepared.question)}")
        return {**base, "answer": text, "citations": citations, "contacts": [r.to_dict() for r in routed],
                "abstained": False, "category": self.profile.category((chunk.doc_title, chunk.section))}

    def _without_echo(self, text: str, question: str) -> str:
        """The answer without any word of the question that no source uses and no template of the assistant
        says: such a word can only have come from the question, and may be a member's name or an identifier
        the screen missed. A hit is a bug; the word is replaced and the bug logged (without the word)."""
        foreign = {w for w in re.findall(r"[a-z0-9]+", question.lower())
                   if len(w) >= 3 and w not in self._source_words and w not in TEMPLATE_WORDS}
        if not foreign:
            return text
        echoed = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(foreign, key=len, reverse=True))) + r")\b",
                            re.IGNORECASE)
        if not echoed.search(text):
            return text
        log.error("an answer repeated %d word(s) of the question that no source uses; removed",
                  len(set(echoed.findall(text))))
        return echoed.sub("…", text)

    def _verified(self, text: str) -> str:
        """The last check before an answer leaves: every phone number and e-mail in it is printed in an
        ingested document. A miss is a bug; the sentence carrying it is dropped and the bug logged."""
        bad = [v for v in contacts_in_text(text) if v not in self.all_text]
        if not bad:
            return text
        # the values are not logged: one that came from a question may be a member's
        log.error("answer contained %d contact(s) no document has; dropping those sentences", len(bad))
        kept = [s for s in re.split(r"(?<=[.!?\]])\s+", text) if not any(v in s for v in bad)]
        return " ".join(kept)

    def _write(self, prepared: Prepared, sentences: list[str], citations: list[dict[str, Any]],
               routed: list[Routed], rewrite: bool = True) -> str:
        extractive = " ".join(sentences)
        if routed:
            extractive += " " + contact_line(routed, prepared.question)
        if self.writer is None or not rewrite:
            return extractive
        sources = [Source(c["n"], c["section"], self.snapshot.chunks[c["chunk_id"]].text) for c in citations]
        try:
            written = self.writer.write(prepared.question, sources)
        except Exception:  # a remote model failing must not fail the answer
            log.exception("LLM answer failed; using the extractive answer")
            return extractive
        problems = grounding_problems(written, sources, self.all_text)
        if problems:
            log.warning("LLM answer rejected (%d grounding problem(s)); using the extractive answer", len(problems))
            return extractive
        return written


def _values(r: Routed, question: str = "") -> str:
    """The contact's numbers as the answer states them; a fax number when the question asks for one."""
    if r.fax and re.search(r"\bfax", question, re.IGNORECASE):
        return f"fax {r.fax}"
    return " or ".join(v for v in (r.phone, r.email) if v) or (r.fax or "")


def contact_line(routed: Sequence[Routed], question: str) -> str:
    """The answer's closing template: the first routed department and its numbers."""
    return " ".join(f"Contact: {r.department}, {_values(r, question)}." for r in routed[:1])


def cite(quotes: Sequence[tuple[Chunk, str]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Citations (one per passage, numbered in order of first use, each with the sentences relied on) and the
    sentences marked with their citation's number."""
    citations: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    sentences: list[str] = []
    for chunk, text in quotes:
        if chunk.chunk_id not in numbers:
            numbers[chunk.chunk_id] = len(numbers) + 1
            citations.append(citation(numbers[chunk.chunk_id], chunk, []))
        citations[numbers[chunk.chunk_id] - 1]["quote"].append(text)
        sentences.append(f"{text} [{numbers[chunk.chunk_id]}]")
    for c in citations:
        c["quote"] = " … ".join(c["quote"])  # the sentences relied on, each verbatim
    return citations, sentences


# "what's their phone number?", "whats the fax for that line": asks only for a way to reach someone
_CONTACT_WORDS = frozenset(("phone", "number", "numbers", "tel", "telephone", "email", "e-mail", "mail", "address",
                            "fax", "line", "direct", "main", "best", "whats", "pls", "please"))
_KIND_NAMES = {"phone": "phone number", "email": "e-mail address", "fax": "fax number"}


def _printed(kind: str, text: str) -> bool:
    """Whether a text prints a contact of a kind: an e-mail address, or a phone or fax number."""
    return bool((EMAIL_RE if kind == "email" else PHONE_RE).search(text))


def asks_only_for_contact(question: str) -> bool:
    """Whether a question asks for nothing but a phone number, e-mail or fax (of someone named before)."""
    words = [t for t in plain_tokens(question) if len(t) > 2 and t not in _CONTACT_WORDS]
    return asked_kind(question) is not None and not words


def citation(n: int, chunk: Chunk, quote: list[str]) -> dict[str, Any]:
    """A citation in the contract's shape: document, section, PDF and printed page, link and quote."""
    anchor = f"#page={chunk.page}" if chunk.page else ""
    return {"n": n, "chunk_id": chunk.chunk_id, "doc_id": chunk.doc_id, "doc_title": chunk.doc_title,
            "section": chunk.section, "page": chunk.page, "printed_page": chunk.printed_page,
            "url": f"/docs/{chunk.doc_id}{anchor}", "source_url": chunk.url, "edition": chunk.edition,
            "status": chunk.status, "quote": quote}


def contacts_in_text(text: str) -> list[str]:
    return [m.group() for m in EMAIL_RE.finditer(text)] + [m.group() for m in PHONE_RE.finditer(text)]
