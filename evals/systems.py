"""The systems an evaluation runs: the assistant and the baselines it must beat.

Each answers one question with an ``Outcome``: the passages it retrieved, in rank order, and an answer
in the contract's JSON shape. Baselines have no answerer of their own; their "answer" is their top
passages pasted together, which is what a provider would read from a plain search box.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol

from assistant.embeddings import Embedder
from assistant.index import IndexSnapshot
from assistant.lexical import LexicalIndex
from assistant.schema import Chunk
from evals.metrics import Passage
from evals.questions import Question

TOP_K = 10
BASELINE_ANSWER_PASSAGES = 3


@dataclass
class Outcome:
    """What a system returned for one question."""

    passages: list[Passage]
    answer: dict[str, Any] | None
    timings_ms: dict[str, float] = field(default_factory=dict)


class System(Protocol):
    name: str

    def answer(self, question: Question, conversation_id: str | None) -> Outcome: ...


def passage_from_chunk(chunk: Chunk) -> Passage:
    return Passage(doc_id=chunk.doc_id, section=chunk.section, sections=chunk.sections,
                   heading_path=chunk.heading_path, page=chunk.page, page_end=chunk.page_end,
                   chunk_id=chunk.chunk_id, text=chunk.text)


def pasted_answer(passages: Sequence[Passage], retrieve_ms: float,
                  count: int = BASELINE_ANSWER_PASSAGES) -> dict[str, Any]:
    """A baseline's answer: its top ``count`` passages verbatim, no contacts of its own, never abstaining."""
    top = passages[:count]
    return {"answer": "\n\n".join(p.text for p in top), "citations": [], "pasted": len(top), "contacts": [],
            "abstained": False,
            "urgent": False, "phi_detected": False, "timings_ms": {"retrieve": retrieve_ms, "total": retrieve_ms}}


class DenseBaseline:
    """Dense only: the question's embedding against the Chroma index, nothing else."""

    name = "dense"
    pasted = BASELINE_ANSWER_PASSAGES

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder) -> None:
        self._snapshot = snapshot
        self._embedder = embedder

    def answer(self, question: Question, conversation_id: str | None) -> Outcome:
        start = time.perf_counter()
        hits = self._snapshot.index.query(self._embedder.embed_query(question.question), TOP_K * 3)
        live = [passage_from_chunk(h.chunk) for h in hits if h.chunk.chunk_id in self._snapshot.chunks]
        ms = (time.perf_counter() - start) * 1000
        return Outcome(live, pasted_answer(live, ms, self.pasted), {"retrieve": ms, "total": ms})


class DenseFirstBaseline(DenseBaseline):
    """Dense only, answering with its first passage alone: what a provider reads of the top hit (the answer
    term recall the assistant's few sentences must at least reach)."""

    name = "dense_first"
    pasted = 1


class BM25Baseline:
    """Lexical only: BM25 (bm25s) over the same chunks, plain words, no vocabulary of the domain."""

    name = "bm25"

    def __init__(self, snapshot: IndexSnapshot) -> None:
        self._chunks = list(snapshot.chunks.values())
        self._lexical = LexicalIndex([c.text for c in self._chunks])

    def answer(self, question: Question, conversation_id: str | None) -> Outcome:
        start = time.perf_counter()
        ranked = [passage_from_chunk(self._chunks[i]) for i, _ in self._lexical.search(question.question, TOP_K * 3)]
        ms = (time.perf_counter() - start) * 1000
        return Outcome(ranked, pasted_answer(ranked, ms), {"retrieve": ms, "total": ms})


class _TextOnly(HTMLParser):
    """Every text node of an HTML file, navigation and footer included: the naive pipeline cleans nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def raw_pages(path: Path) -> list[str]:
    """A file's text as the naive pipeline sees it: PDF pages as extracted, HTML/Markdown as plain text."""
    from ingest.pdf import load_pdf_pages

    if path.suffix.lower() == ".pdf":
        return load_pdf_pages(path)[0]
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() in (".html", ".htm"):
        parser = _TextOnly()
        parser.feed(text)
        return ["\n".join(parser.parts)]
    return [text]


class SectionResolver:
    """Maps a passage cut by someone else's splitter to the sections of our index whose text it holds."""

    def __init__(self, snapshot: IndexSnapshot, width: int = 6) -> None:
        self._width = width
        self._by_doc: dict[str, list[tuple[Chunk, set[str]]]] = {}
        for chunk in snapshot.chunks.values():
            self._by_doc.setdefault(chunk.doc_id, []).append((chunk, self._shingles(chunk.text)))

    def _shingles(self, text: str) -> set[str]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return {" ".join(words[i:i + self._width]) for i in range(max(0, len(words) - self._width + 1))}

    def resolve(self, doc_id: str, text: str, page: int | None, key: str) -> Passage:
        mine = self._shingles(text)
        overlaps = [(len(mine & theirs), chunk) for chunk, theirs in self._by_doc.get(doc_id, [])]
        held = [c for n, c in sorted(overlaps, key=lambda o: -o[0]) if n >= 3]
        best = held[0] if held else None
        return Passage(doc_id=doc_id, section=best.section if best else key,
                       sections=tuple(s for c in held for s in c.sections),
                       heading_path=tuple(h for c in held for h in c.heading_path),
                       page=page, page_end=page, chunk_id=key, text=text)


class _LangChainEmbeddings:
    """Our embedder behind LangChain's Embeddings interface (the same model for a fair comparison)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text)


class NaiveLangChainBaseline:
    """The tutorial pipeline: raw text, RecursiveCharacterTextSplitter(1000, 200), Chroma similarity search.

    The collection lives in ``work_dir`` keyed by a hash of the source files, so a rerun on the same
    documents reuses it instead of embedding everything again.
    """

    name = "naive_langchain"

    def __init__(self, sources: Sequence[tuple[str, Path]], snapshot: IndexSnapshot, embedder: Embedder,
                 work_dir: Path) -> None:
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_core.embeddings import Embeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        digest = hashlib.sha256()
        for doc_id, path in sorted(sources):
            digest.update(doc_id.encode() + path.read_bytes())
        name = f"naive-{digest.hexdigest()[:16]}"
        adapter: Embeddings = _LangChainEmbeddings(embedder)  # type: ignore[assignment]
        work_dir.mkdir(parents=True, exist_ok=True)
        self._store = Chroma(collection_name=name, embedding_function=adapter, persist_directory=str(work_dir))
        self._resolver = SectionResolver(snapshot)
        self.built_chunks = 0
        if not self._store.get(limit=1)["ids"]:
            splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
            docs = [Document(page_content=text, metadata={"doc_id": doc_id, "page": n})
                    for doc_id, path in sources for n, text in enumerate(raw_pages(path), start=1) if text.strip()]
            pieces = splitter.split_documents(docs)
            ids = [f"{d.metadata['doc_id']}:{i}" for i, d in enumerate(pieces)]
            self._store.add_documents(pieces, ids=ids)
            self.built_chunks = len(pieces)

    def answer(self, question: Question, conversation_id: str | None) -> Outcome:
        start = time.perf_counter()
        docs = self._store.similarity_search(question.question, k=TOP_K * 3)
        ms = (time.perf_counter() - start) * 1000
        ranked = [self._resolver.resolve(d.metadata["doc_id"], d.page_content, d.metadata.get("page"),
                                         f"{d.metadata['doc_id']}#{i}") for i, d in enumerate(docs)]
        return Outcome(ranked, pasted_answer(ranked, ms), {"retrieve": ms, "total": ms})


def naive_sources(snapshot: IndexSnapshot) -> list[tuple[str, Path]]:
    """The files behind the live index, as (doc_id, path)."""
    return [(d.doc_id, Path(d.source_path)) for d in snapshot.documents.values() if Path(d.source_path).is_file()]


def open_baselines(snapshot: IndexSnapshot, embedder: Embedder, names: Sequence[str],
                   work_dir: Path) -> list[System]:
    """The named baselines over one index (unknown names are the caller's to reject)."""
    systems: list[System] = []
    for name in names:
        if name == "dense":
            systems.append(DenseBaseline(snapshot, embedder))
        elif name == "dense_first":
            systems.append(DenseFirstBaseline(snapshot, embedder))
        elif name == "bm25":
            systems.append(BM25Baseline(snapshot))
        elif name == "naive_langchain":
            systems.append(NaiveLangChainBaseline(naive_sources(snapshot), snapshot, embedder, work_dir))
    return systems
