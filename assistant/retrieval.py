"""Hybrid retrieval: dense (the vectors stored in Chroma) and BM25 rankings fused, aware of editions and of the
regions the plan profile names."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.adapter import QueryAdapter, matvec, unit_rows
from assistant.asks import asked_kinds, given_kinds
from assistant.components import ALL_ON, Components
from assistant.embeddings import Embedder, embed_queries
from assistant.index import IndexSnapshot
from assistant.lexical import STOPWORDS, LexicalIndex, plain_tokens
from assistant.profile import NEUTRAL, PlanProfile
from assistant.schema import Chunk
from assistant.sentences import SentenceVectors, quotable_sentences
from assistant.vocabulary import Vocabulary, english_zipf

# "the old manual", "previous rules", "under the 2018 book"; not "old charts", "a 10 yr old" or "ignore all
# previous instructions", which ask about records, a child or nothing
_OLD_EDITION = re.compile(r"\b(outdated|superseded|used to be|back then|19\d\d|20(?:0\d|1\d|2[0-4]))\b"
                          r"|\b(old|older|previous|prior|former|earlier)\s+(?:[\w-]+\s+){0,2}?(manual|book|section|"
                          r"edition|version|rules?|polic(y|ies)|guide|handbook|cheat ?sheet|numbers?|fax|forms?|"
                          r"process|requirements?|timelines?|time ?frames?|deadlines?)\b", re.IGNORECASE)
_CURRENT_EDITION = re.compile(r"\b(now|current(ly)?|today|latest|newest|new|still (good|valid|ok|right|correct)|"
                              r"these days|this year|20(?:2[5-9]))\b", re.IGNORECASE)
# a glossary's section title ("13.4 Terms D to E", "Definitions"): it defines words, it rarely answers
GLOSSARY_SECTION = re.compile(r"^(?:\d+(?:\.\d+)*\s+)?(?:Terms\b|Glossary|Definitions)", re.IGNORECASE)
_NUMBERED = re.compile(r"^\d+(\.\d+)*\b")  # a numbered section's title ("8.10.3 Timelines")
# what a question asking for a definition says ("what does JIL stand for", "whats a CCO", "EOP vs EOB")
_DEFINITION_ASKED = re.compile(r"\b(stands? for|what(?:'|’)?s an?\b|what is an?\b|mean(s|ing)?\b|difference|"
                               r"term for|defin(e|ed|ition)s?\b|vs\b|versus|is that (the|an?\b|[^?]* or\b)|"
                               r"acronym|abbreviat)", re.IGNORECASE)
GLOSSARY_FACTOR = 0.6  # a glossary entry defines a word; it rarely says what to do (tried 0.3: same results)
SECTION_BOOST = 1.5  # a follow-up most often asks about the section the last answer cited, or one next to it
# A passage that gives the kind of answer asked for (a time for "how long", a phone number or e-mail for "who do
# I call") is preferred by this factor per kind: corpus hit@5 0.830 -> 0.847, real 0.797 -> 0.805. 1.3 found
# one more corpus section but lost a follow-up turn; 1.4 lost three turns and abstention recall.
ANSWER_KIND_BOOST = 1.2
# A name the question uses that only some documents print (a claims system's, a contractor's, a regional agency's)
# says which documents it is about: the others' passages are demoted as another region's are. A name is a word the
# documents capitalise (``names``) that English hardly uses (Zipf frequency under ``RARE_NAME``: a coined vendor
# name 0, a four-letter agency acronym 0 to 1.5). Abbreviations any office uses ("TTY" 2.4, "SSN" 2.8, "PCP" 2.9,
# "COB" 3.0) and capitalised labels ("Admin" 3.9, "Deadline" 4.1) are printed by one document and not another
# without the question being about that document: on the real question sets, counting words up to Zipf 4.5 named
# the wrong handbook for 4 questions of 117.
NAMED_DOCUMENT_FACTOR = 0.55
RARE_NAME = 1.5
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
# A third ranking fused with the other two: chunks by their one sentence closest to the (adapted) question. A
# chunk's vector stands for all it says at once; a sentence for one statement.
# 0 / 0.1 / 0.15 / 0.3 (eval --baselines none, both sets): corpus MRR 0.722 / 0.727 / 0.727 / 0.723, hit@5
# 0.906 / 0.906 / 0.904 / 0.902, routing 0.925 / 0.917 / 0.917 / 0.904, passed 0.706 / 0.712 / 0.715 / 0.706;
# real hit@1 0.602 / 0.634 / 0.634 / 0.650, MRR 0.706 / 0.725 / 0.725 / 0.735, hit@5 0.862 throughout. The
# model's own question vector instead of the adapted one, at 0.5 / 1.0: corpus hit@5 0.878 / 0.873.
SENTENCE_WEIGHT = 0.1
EXACT_LIMIT = 50_000  # chunks searched exactly (50,000 x 384 float32 is 77 MB and 10-15 ms a question; 460 take 0.1 ms)


# "email for provider enrollment?": the kind of contact asked for is what ANSWER_KIND_BOOST prefers; as a search word
# it finds whichever passage prints the most e-mail addresses
_CONTACT_KIND = re.compile(r"\b(e-?mail|phone|telephone)s?\b", re.IGNORECASE)


def without_contact_kind(query: str) -> str:
    stripped = _CONTACT_KIND.sub(" ", query)
    return stripped if len([t for t in plain_tokens(stripped) if t not in STOPWORDS]) >= 2 else query


def wants_old_edition(question: str, context: str = "") -> bool:
    """Whether a question asks what a superseded edition said. Words of the present ("now", "current",
    "still good?") win over words of the past; a follow-up inherits the earlier turn's wish."""
    if _CURRENT_EDITION.search(question):
        return False
    if _OLD_EDITION.search(question):
        return True
    return bool(context) and wants_old_edition(context)


def stem(word: str) -> str:
    """A light suffix stripper: claims/claim, notified/notify, billing/bill."""
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def domain_tokens(text: str) -> list[str]:
    return [stem(t) for t in plain_tokens(text)]


def search_text(chunk: Chunk) -> str:
    """What the lexical index sees: document title, heading path and text."""
    return " ".join((chunk.doc_title, " ".join(chunk.heading_path), chunk.text))


def title_text(chunk: Chunk) -> str:
    """A chunk's place in its document, as words: document title and heading path."""
    return " > ".join((chunk.doc_title, *chunk.heading_path))


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the two signals behind it."""

    chunk: Chunk
    score: float
    dense: float  # cosine similarity
    lexical: float  # raw BM25 score


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    query: str  # after expansion
    top_dense: float
    also_vector: np.ndarray | None = None  # of the ``also_embed`` text, embedded in the same pass


class HybridRetriever:
    """Dense + BM25 fused by reciprocal rank, with metadata preferences and section diversity. With an
    ``adapter`` the dense search runs on the adapted question vector; the reported cosine stays the
    model's own (what confidence is calibrated on). With ``sentences`` (the cached sentence vectors) chunks
    are also ranked by their best sentence, fused at ``sentence_weight``."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, vocabulary: Vocabulary, *,
                 adapter: QueryAdapter | None = None, rrf_k: int = 20, candidates: int = 40,
                 lexical_weight: float = 1.0, feedback_terms: int = 3, feedback_docs: int = 3,
                 exact_limit: int = EXACT_LIMIT, sentences: SentenceVectors | None = None,
                 sentence_weight: float | None = None, components: Components = ALL_ON,
                 profile: PlanProfile = NEUTRAL, names: frozenset[str] = frozenset()) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.vocabulary = vocabulary
        self.components = components
        self.profile = profile
        self.adapter = adapter if components.on("query_adapter") else None
        self.chunks = list(snapshot.chunks.values())
        # Up to ``exact_limit`` chunks the dense search is exact, over the stored vectors held here: it costs
        # well under a millisecond on the bundled corpus, and Chroma's approximate (HNSW) answer for the same
        # vector can differ from one process to the next, which made the same question rank differently
        # between runs. A larger index is searched through Chroma.
        self.exact = len(self.chunks) <= exact_limit
        self._unit_vectors = (unit_rows(snapshot.index.vectors([c.chunk_id for c in self.chunks]))
                              if self.chunks and (self.exact or self.adapter is not None)
                              else np.zeros((0, 0), np.float32))
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.lexical_weight = lexical_weight
        self.feedback_terms = feedback_terms if components.on("feedback") else 0
        self.feedback_docs = feedback_docs
        self.position = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.glossary = {c.chunk_id for c in self.chunks if GLOSSARY_SECTION.search(c.section)}
        self.gives = {c.chunk_id: given_kinds(c.text) for c in self.chunks}
        self.layout = section_layout(self.chunks)
        self.lexical = LexicalIndex([search_text(c) for c in self.chunks], domain_tokens)
        df: Counter[str] = Counter()
        self.chunk_tokens: list[set[str]] = []
        for c in self.chunks:
            tokens = set(domain_tokens(search_text(c)))
            self.chunk_tokens.append(tokens)
            df.update(tokens)
        n = max(1, len(self.chunks))
        self.idf = {t: math.log(1 + n / f) for t, f in df.items()}
        # the documents printing each name (see ``named_documents``)
        self.documents = frozenset(c.doc_id for c in self.chunks)
        printed_in: dict[str, set[str]] = {}
        for c, tokens in zip(self.chunks, self.chunk_tokens, strict=True):
            for t in tokens & names:
                printed_in.setdefault(t, set()).add(c.doc_id)
        self._printed_in = {t: frozenset(d) for t, d in printed_in.items()}
        self.max_idf = math.log(1 + n)
        self.sentence_weight = (SENTENCE_WEIGHT if sentence_weight is None else sentence_weight) \
            if components.on("sentence_ranking") else 0.0
        self._sentence_matrix, self._sentence_starts, self._sentence_owner = self._sentence_rows(sentences)

    def _sentence_rows(self, sentences: SentenceVectors | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cached sentence vectors of every chunk as rows, chunk after chunk; the row where each chunk's
        sentences start; and that chunk's position (chunks without a cached sentence are left out)."""
        rows: list[np.ndarray] = []
        starts: list[int] = []
        owner: list[int] = []
        if sentences is not None and self.sentence_weight:
            for i, c in enumerate(self.chunks):
                found = [v for v in map(sentences.get, quotable_sentences(c.text)) if v is not None]
                if found:
                    starts.append(len(rows))
                    owner.append(i)
                    rows += found
        if not rows:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
        return unit_rows(np.stack(rows)), np.asarray(starts, dtype=np.int64), np.asarray(owner, dtype=np.int64)

    def search(self, query: str, *, k: int = 10, region: str | None = None, old_edition: bool | None = None,
               boost_docs: Iterable[str] = (), boost_sections: Iterable[tuple[str, str]] = (),
               exclude_superseded: bool = False, also_embed: str | None = None,
               asking: str | None = None, names: set[str] | None = None) -> Retrieval:
        """The top ``k`` chunks (then the rest of the candidates). ``boost_docs`` and ``boost_sections`` (doc id,
        section) are what the previous answer cited, preferred for a follow-up. ``also_embed`` is a second
        text to embed in the same pass as the query (the answerer compares the question with sentences). ``asking``
        is the text that says what kind of answer is wanted (a follow-up's own words, not the topic it carries
        over); by default the query. ``names``: the query's ``document_names``, when the caller has them."""
        expanded = self.vocabulary.expand(query, components=self.components)
        wants_old = wants_old_edition(query) if old_edition is None else old_edition
        vectors = embed_queries(self.embedder, [expanded] if also_embed is None else [expanded, also_embed])
        unit, adapted = self._question_vectors(np.asarray(vectors[0], dtype=np.float32))
        dense_ids, dense_score = self._dense(unit, adapted)
        dense_rank = {cid: r for r, cid in enumerate(dense_ids)}
        lexical_scores = self.lexical.scores(without_contact_kind(expanded))
        if self.feedback_terms:
            lexical_scores = self._with_feedback(expanded, dense_rank, lexical_scores)
        top_lex = np.argsort(-lexical_scores, kind="stable")[: self.candidates]
        lexical_rank = {self.chunks[i].chunk_id: r for r, i in enumerate(top_lex) if lexical_scores[i] > 0}
        sentence_rank = self._sentence_ranking(adapted)
        boosted = set(boost_docs)
        near = set(boost_sections)
        define = bool(_DEFINITION_ASKED.search(query))
        asked = asked_kinds(query if asking is None else asking)
        named = self.documents_of(self.document_names(query) if names is None else names) \
            if self.components.on("named_document") else None
        fused: list[Hit] = []
        for cid in set(dense_rank) | set(lexical_rank) | set(sentence_rank):
            chunk = self.snapshot.chunks[cid]
            score = 0.0
            if cid in dense_rank:
                score += 1.0 / (self.rrf_k + dense_rank[cid])
            if cid in sentence_rank:
                score += self.sentence_weight / (self.rrf_k + sentence_rank[cid])
            if cid in lexical_rank:
                score += self.lexical_weight / (self.rrf_k + lexical_rank[cid])
            score *= self._preference(chunk, region, wants_old, boosted, near, define)
            if named and chunk.doc_id not in named:
                score *= NAMED_DOCUMENT_FACTOR
            if self.components.on("answer_kind_boost"):
                score *= ANSWER_KIND_BOOST ** len(asked & self.gives[cid])
            if exclude_superseded and chunk.status == "superseded" and not wants_old:
                continue
            fused.append(Hit(chunk, score, dense_score.get(cid, 0.0), float(lexical_scores[self.position[cid]])))
        fused.sort(key=lambda h: (-h.score, self.position[h.chunk.chunk_id]))
        hits = diversify(fused, k) if self.components.on("diversify") else fused
        also = np.asarray(vectors[1], dtype=np.float32) if also_embed is not None else None
        return Retrieval(hits, expanded, max((h.dense for h in hits[:5]), default=0.0), also)

    def named_documents(self, text: str) -> frozenset[str] | None:
        """The documents a text names: those printing every name it uses that some documents do not print
        ("claims in <a claims system one manual names>" is about the documents that print that name). None when it
        uses no such name, or names that no one document prints together (no document is named then)."""
        return self.documents_of(self.document_names(text))

    def documents_of(self, names: set[str]) -> frozenset[str] | None:
        """The documents printing every one of ``names`` (``document_names`` of a text), or None."""
        named: frozenset[str] | None = None
        for t in names:
            named = self._printed_in[t] if named is None else named & self._printed_in[t]
        return named or None

    def document_names(self, text: str) -> set[str]:
        """The tokens of the names a text uses that only some documents print (see ``RARE_NAME``)."""
        found = set()
        for m in _WORD.finditer(text):
            word = m.group().split("'")[0].split("’")[0]
            if len(word) < 3 or english_zipf(word.lower()) >= RARE_NAME:
                continue
            found |= {t for t in domain_tokens(word) if self._printed_in.get(t, self.documents) != self.documents}
        return found

    def _question_vectors(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The question's unit vector as the model embeds it, and the one searched with (through the adapter,
        when there is one)."""
        unit = query_vector / max(float(np.linalg.norm(query_vector)), 1e-12)
        return unit, self.adapter.apply(unit) if self.adapter is not None else unit

    def _sentence_ranking(self, search: np.ndarray) -> dict[str, int]:
        """Chunks ranked by their one sentence closest to the ``search`` vector, best first; chunks without a
        cached sentence vector are not ranked."""
        if not self._sentence_matrix.size:
            return {}
        best = np.maximum.reduceat(matvec(self._sentence_matrix, search), self._sentence_starts)
        order = np.argsort(-best, kind="stable")[: self.candidates]
        return {self.chunks[self._sentence_owner[i]].chunk_id: r for r, i in enumerate(order)}

    def _dense(self, unit: np.ndarray, search: np.ndarray) -> tuple[list[str], dict[str, float]]:
        """The dense candidates for ``search``, best first, and each one's cosine with ``unit``, the question as
        the model embeds it (an adapter changes the ranking, not the reported similarity confidence is
        calibrated on)."""
        if self.exact:
            if not self.chunks:
                return [], {}
            similarity = matvec(self._unit_vectors, search)
            order = np.argsort(-similarity, kind="stable")[: self.candidates]
        else:
            found = [h for h in self.snapshot.index.query(search, self.candidates) if h.chunk.chunk_id in self.position]
            if self._unit_vectors.size == 0:  # a large index without an adapter: Chroma's own cosine
                return [h.chunk.chunk_id for h in found], {h.chunk.chunk_id: h.score for h in found}
            order = np.asarray([self.position[h.chunk.chunk_id] for h in found], dtype=np.int64)
        # without an adapter the exact search already computed the model's cosine
        cosine = similarity[order] if self.exact and self.adapter is None else self._unit_vectors[order] @ unit
        ids = [self.chunks[i].chunk_id for i in order]
        return ids, {cid: float(c) for cid, c in zip(ids, cosine, strict=True)}

    def _with_feedback(self, query: str, dense_rank: dict[str, int], lexical_scores: np.ndarray) -> np.ndarray:
        """Pseudo-relevance feedback: the rare words shared by the passages both rankings put on top are
        added to the lexical query, so a paraphrased question finds the manual's own words."""
        top_lex = np.argsort(-lexical_scores, kind="stable")[: self.feedback_docs]
        top = {self.chunks[i].chunk_id for i in top_lex} | {c for c, r in dense_rank.items() if r < self.feedback_docs}
        counts: Counter[str] = Counter()
        for cid in top:
            counts.update(self.chunk_tokens[self.position[cid]])
        asked = set(domain_tokens(query))
        shared = [t for t, n in counts.items() if n >= 2 and t not in asked and t not in STOPWORDS and len(t) > 3]
        shared.sort(key=lambda t: (-self.idf.get(t, 0.0) * counts[t], t))
        extra = shared[: self.feedback_terms]
        if not extra:
            return lexical_scores
        return np.asarray(lexical_scores + 0.5 * self.lexical.scores(" ".join(extra)), dtype=np.float32)

    def _preference(self, chunk: Chunk, region: str | None, wants_old: bool, boosted: set[str],
                    near: set[tuple[str, str]], define: bool = False) -> float:
        factor = 1.0
        on = self.components.on
        if not define and chunk.chunk_id in self.glossary and on("glossary_penalty"):
            factor *= GLOSSARY_FACTOR
        if chunk.status == "superseded" and on("edition_preference"):
            factor *= 1.6 if wants_old else 0.35
        chunk_region = self.profile.region_of(chunk)
        if region and chunk_region and chunk_region != region and on("region_preference"):
            factor *= 0.55
        if chunk.doc_id in boosted:
            factor *= 1.3
        if near and any(related_sections(chunk.doc_id, chunk.section, d, s, self.layout) for d, s in near):
            factor *= SECTION_BOOST
        return factor

    def common_tokens(self, share: float) -> frozenset[str]:
        """The tokens found in more than ``share`` of the chunks (idf is log(1 + chunks / chunks with it))."""
        return frozenset(t for t, v in self.idf.items() if v < math.log(1 + 1 / share))

    def coverage(self, query: str, hits: Sequence[Hit]) -> float:
        """How much of the query (weighted by rarity) the top hits contain: low for questions the corpus
        has no words for ("dental fee schedule in Texas")."""
        tokens = {t for t in domain_tokens(query) if t not in STOPWORDS and len(t) > 2}
        if not tokens:
            return 0.0
        found: set[str] = set()
        for h in hits:
            found |= self.chunk_tokens[self.position[h.chunk.chunk_id]]
        weight = {t: self.idf.get(t, self.max_idf * 1.5) for t in tokens}
        return sum(w for t, w in weight.items() if t in found) / sum(weight.values())


Layout = dict[tuple[str, str], tuple[int, tuple[str, ...]]]


def section_layout(chunks: Iterable[Chunk]) -> Layout:
    """Each (document, section): its place among the document's sections and its heading path."""
    out: Layout = {}
    placed: Counter[str] = Counter()  # sections of each document placed so far
    for c in sorted(chunks, key=lambda c: (c.doc_id, c.n)):
        if (c.doc_id, c.section) not in out:
            out[(c.doc_id, c.section)] = (placed[c.doc_id], tuple(c.heading_path))
            placed[c.doc_id] += 1
    return out


def related_sections(doc_a: str, a: str, doc_b: str, b: str, layout: Layout | None = None) -> bool:
    """Same document and the same section, or numbered sections one inside the other ("8.10" and "8.10.3")
    or side by side under one parent ("5.6" and "5.7"). Unnumbered sections (a web page's headings), given the
    ``layout``: one heading under the other, or the next heading under the same parent ("How to refer a
    member", then "What happens after a referral"); without it they relate only to themselves."""
    if doc_a != doc_b:
        return False
    if a == b:
        return True
    if not (_NUMBERED.match(a) and _NUMBERED.match(b)):
        if layout is None or (doc_a, a) not in layout or (doc_b, b) not in layout:
            return False
        (i, path_a), (j, path_b) = layout[(doc_a, a)], layout[(doc_b, b)]
        shorter = min(len(path_a), len(path_b))
        if path_a[:shorter] == path_b[:shorter]:
            return True  # one inside the other
        return abs(i - j) == 1 and path_a[:-1] == path_b[:-1]
    na, nb = a.split()[0].split("."), b.split()[0].split(".")
    shorter = min(len(na), len(nb))
    return na[:shorter] == nb[:shorter] or (len(na) == len(nb) and na[:-1] == nb[:-1] and len(na) > 1)


def diversify(hits: Sequence[Hit], k: int, per_section: int = 2) -> list[Hit]:
    """At most ``per_section`` chunks of one section in the first ``k``; the rest follow in order."""
    seen: Counter[tuple[str, str]] = Counter()
    first: list[Hit] = []
    rest: list[Hit] = []
    for h in hits:
        key = (h.chunk.doc_id, h.chunk.section)
        if seen[key] < per_section and len(first) < k:
            seen[key] += 1
            first.append(h)
        else:
            rest.append(h)
    return first + rest
