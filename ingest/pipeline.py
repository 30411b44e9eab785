"""The ingestion pipeline: discover -> load -> clean -> sections -> chunks -> embed -> write.

Each document is written atomically: its new chunks are added under new ids, then one catalog
transaction makes them live (with its contacts), then the old chunks are deleted. A crash at any
point leaves the document in its old or its new state; leftovers are swept on the next run."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.adapter import query_adapter
from assistant.catalog import INDEX_VERSION, Catalog, DocumentRecord
from assistant.contacts import find_contacts, unique_mentions
from assistant.embeddings import Embedder, SentenceTransformerEmbedder
from assistant.errors import AssistantError, DocumentError, IngestBusy
from assistant.index import IndexSnapshot
from assistant.profile import PROFILE_META, find_profile
from assistant.profile import stored as stored_profile
from assistant.schema import Chunk, Contact, DocumentInfo
from assistant.sentences import sentence_vectors
from assistant.settings import Settings
from assistant.store import ChromaStore, ChunkIndex
from ingest.chunking import body_budget, chunk_sections
from ingest.clean import pdf_lines, strip_running_lines
from ingest.html import load_html
from ingest.manifest import SUPPORTED, SourceFile, discover
from ingest.model import LoadedDocument
from ingest.pdf import load_pdf_pages
from ingest.structure import split_sections
from ingest.text import load_markdown, load_plain_text

RETIRED = "retired_collections"  # catalog meta: collections replaced by a rebuild, dropped by the next ingest
log = logging.getLogger(__name__)

# Bump when loading, cleaning, chunking or the encoding of chunks changes, so every document is re-ingested once.
PIPELINE_VERSION = "5"
_PREFIX_CHARS = 90


@dataclass
class DocumentOutcome:
    path: str
    doc_id: str
    status: str  # added | updated | unchanged | removed | failed
    chunks: int = 0
    reason: str | None = None


@dataclass
class IngestSummary:
    outcomes: list[DocumentOutcome] = field(default_factory=list)
    chunks_written: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    collection: str | None = None
    embedding_model: str = ""
    chunks_total: int = 0
    error: str | None = None
    index_version: str | None = None

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return self.error is None and self.count("failed") == 0

    def to_dict(self) -> dict[str, Any]:
        seen = sum(o.status != "removed" for o in self.outcomes)
        return {
            "seen": seen,
            **{s: self.count(s) for s in ("added", "updated", "unchanged", "removed", "failed")},
            "failures": [{"path": o.path, "reason": o.reason} for o in self.outcomes if o.status == "failed"],
            "chunks_written": self.chunks_written,
            "chunks_total": self.chunks_total,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "chunks_per_second": round(self.chunks_written / self.seconds, 2) if self.seconds else 0.0,
            "collection": self.collection,
            "embedding_model": self.embedding_model,
            "documents": [o.__dict__ for o in self.outcomes],
            "error": self.error,
            "index_version": self.index_version,
        }

    def to_text(self) -> str:
        d = self.to_dict()
        lines = [f"documents: {d['seen']} seen, {d['added']} added, {d['updated']} updated, "
                 f"{d['unchanged']} unchanged, {d['removed']} removed, {d['failed']} failed"]
        lines += [f"  FAILED {f['path']}: {f['reason']}" for f in d["failures"]]
        lines.append(f"chunks: {d['chunks_written']} written, {d['chunks_total']} in the index")
        lines.append(f"time: {d['seconds']:.1f} s ({d['chunks_per_second']:.1f} chunks/s)")
        if self.error:
            lines.append(f"ERROR: {self.error}")
        return "\n".join(lines)


def load_document(path: Path) -> LoadedDocument:
    """Read one file into lines, by its type. Raises DocumentError with a plain reason."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(f"unsupported file type '{suffix or path.name}' "
                            f"(supported: {', '.join(sorted(SUPPORTED))})")
    if not path.is_file():
        raise DocumentError("file not found")
    if path.stat().st_size == 0:
        raise DocumentError("file is empty")
    if suffix == ".pdf":
        pages, title = load_pdf_pages(path)
        cleaned, labels = strip_running_lines(pages)
        return LoadedDocument(pdf_lines(cleaned), len(pages), labels, title)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                            "save it as UTF-8") from exc
    if not text.strip():
        raise DocumentError("file has no text")
    if suffix in {".html", ".htm"}:
        lines, title = load_html(text)
    elif suffix in {".md", ".markdown"}:
        lines, title = load_markdown(text)
    else:
        lines, title = load_plain_text(text), None
    if not lines:
        raise DocumentError("no text found in the document")
    return LoadedDocument(lines, 0, {}, title)


def document_hash(path: Path, info: DocumentInfo, settings: Settings, model: str) -> str:
    """Changes when the file, its declared metadata, the model or the chunking settings change."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    h.update(json.dumps([info.__dict__, PIPELINE_VERSION, model, settings.chunk_tokens,
                         settings.chunk_overlap_tokens, settings.min_chunk_tokens], sort_keys=True).encode())
    return h.hexdigest()


def _prefix(title: str, heading_path: tuple[str, ...]) -> str:
    parts = [title[:_PREFIX_CHARS]] + [h[:_PREFIX_CHARS] for h in heading_path[-2:]]
    return "\n".join(p for p in parts if p)


def build_chunks(info: DocumentInfo, loaded: LoadedDocument, doc_hash: str, embedder: Embedder,
                 settings: Settings) -> list[Chunk]:
    """The document's chunks with full metadata, each within the model's token window."""
    sections = split_sections(loaded.lines)
    if not sections:
        raise DocumentError("no text found in the document")
    max_tokens = min(settings.chunk_tokens, embedder.max_tokens)
    prefixes = [_prefix(info.title, s.heading_path) for s in sections]
    budget = body_budget(max_tokens, max(embedder.count_tokens(prefixes)))
    drafts = chunk_sections(sections, embedder.count_tokens, budget=budget,
                            overlap=settings.chunk_overlap_tokens, min_tokens=settings.min_chunk_tokens)
    chunks: list[Chunk] = []
    for n, draft in enumerate(drafts):
        first = sections[draft.section_indexes[0]]
        embed_text = f"{prefixes[draft.section_indexes[0]]}\n{draft.text}"
        chunks.append(Chunk(
            chunk_id=f"{info.doc_id}:{doc_hash[:8]}:p{draft.page or 0}:c{n}",
            doc_id=info.doc_id, doc_title=info.title, text=draft.text, embed_text=embed_text,
            source_path=info.source_path, url=info.url, section=first.label, heading_path=first.heading_path,
            sections=tuple(sections[i].number or sections[i].title for i in draft.section_indexes),
            page=draft.page, page_end=draft.page_end,
            printed_page=loaded.printed_pages.get(draft.page) if draft.page else None,
            region=info.region, edition=info.edition, status=info.status, doc_hash=doc_hash,
            chunk_hash=hashlib.sha256(draft.text.encode()).hexdigest()[:16], n=n, token_count=0,
        ))
    counts = embedder.count_tokens([c.embed_text for c in chunks])
    over = [c.chunk_id for c, t in zip(chunks, counts, strict=True) if t > embedder.max_tokens]
    if over:
        raise DocumentError(f"internal: {len(over)} chunks exceed the model window ({over[0]})")
    return [Chunk(**{**c.__dict__, "token_count": t}) for c, t in zip(chunks, counts, strict=True)]


def extract_contacts(chunks: list[Chunk]) -> list[Contact]:
    """Every phone number and e-mail in the document's chunks, each context once."""
    found = []
    for chunk in chunks:
        for mention in find_contacts(chunk.text):
            found.append((mention, chunk))
    kept = {id(m) for m in unique_mentions(m for m, _ in found)}
    return [Contact(value=m.value, kind=m.kind, context=m.context,
                    department=m.department or (c.section or None), doc_id=c.doc_id, chunk_id=c.chunk_id,
                    section=c.section, page=c.page, printed_page=c.printed_page, region=c.region)
            for m, c in found if id(m) in kept]


@dataclass(frozen=True)
class Prepared:
    """A document loaded and chunked, waiting to be embedded and written."""

    source: SourceFile
    info: DocumentInfo
    doc_hash: str
    page_count: int
    chunks: list[Chunk]


@contextmanager
def ingest_lock(data_dir: Path) -> Iterator[None]:
    """One ingest at a time per data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "ingest.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IngestBusy(f"another ingest is running on {data_dir}") from exc
        yield


class Ingestor:
    """Builds or updates the index in ``settings.data_dir`` from documents on disk."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, *, progress: bool | None = None):
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder.from_settings(settings)
        self.progress = sys.stderr.isatty() if progress is None else progress

    def run(self, paths: list[Path], *, rebuild: bool = False) -> IngestSummary:
        started = time.perf_counter()
        summary = IngestSummary(embedding_model=self.embedder.name)
        try:
            found = find_profile(paths)
            profile = stored_profile(found) if found else None  # a bad profile stops the run before any change
            with ingest_lock(self.settings.data_dir):
                self._run(paths, rebuild, summary)
                if summary.collection and not summary.error:
                    self._warm_caches()
                    self._publish(summary, rebuild, profile)
        except AssistantError as exc:
            summary.error = exc.message
        summary.seconds = time.perf_counter() - started
        return summary

    def _publish(self, summary: IngestSummary, rebuild: bool, profile: str | None = None) -> None:
        """Bump the index version once the run is complete (caches warm included): a running service swaps to
        the new index when it sees a new version, never to one half written. An unchanged run keeps it. The plan
        profile found beside the documents is kept with the index (a rebuild without one drops the old one)."""
        changed = rebuild or any(o.status in ("added", "updated", "removed") for o in summary.outcomes)
        catalog = Catalog(self.settings.catalog_path)
        try:
            if profile != catalog.get_meta(PROFILE_META) and (profile is not None or rebuild):
                changed = True
                with catalog.transaction():
                    if profile is None:
                        catalog.delete_meta(PROFILE_META)
                    else:
                        catalog.set_meta(PROFILE_META, profile)
            if changed or catalog.get_meta(INDEX_VERSION) is None:
                with catalog.transaction():
                    catalog.set_meta(INDEX_VERSION, f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}")
            summary.index_version = catalog.get_meta(INDEX_VERSION)
        finally:
            catalog.close()

    def _warm_caches(self) -> None:
        """Embed the live index's sentences for answer selection and fit its query adapter now, so the
        service starts without either."""
        snapshot = IndexSnapshot.open(self.settings, complete_only=False)
        sentences = sentence_vectors(self.settings.data_dir, snapshot, self.embedder)
        if self.settings.query_adapter:
            try:
                query_adapter(self.settings.data_dir, snapshot, self.embedder, sentences)
            except Exception:  # the index is live already; the assistant fits the adapter when it starts
                log.exception("fitting the query adapter failed; the assistant will try again when it starts")

    def _run(self, paths: list[Path], rebuild: bool, summary: IngestSummary) -> None:
        catalog = Catalog(self.settings.catalog_path)
        store = ChromaStore.open(self.settings)
        try:
            active = catalog.active_collection()
            self._drop_retired(catalog, store, active)
            target = None if rebuild or active is None else active
            index: ChunkIndex | None = None
            if target:
                index = store.get_index(target)
                index.check_model(self.embedder.name)
                self._sweep(catalog, index)
            records = catalog.documents(target) if target else {}
            sources, scanned = discover(paths)
            new_name = target or f"chunks-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
            index = self._ingest_all(sources, records, catalog, store, index, new_name, summary)
            if target:
                self._remove_missing(catalog, index, records, sources, scanned, summary)
            elif rebuild:
                self._switch(catalog, store, active, index, new_name, summary)
            final = catalog.active_collection()
            summary.collection = final
            summary.chunks_total = len(catalog.live_chunk_ids(final)) if final else 0
        finally:
            catalog.close()

    def _drop_retired(self, catalog: Catalog, store: ChromaStore, active: str | None) -> None:
        """Drop the collections earlier rebuilds replaced (services have long moved to the new index)."""
        retired = [name for name in json.loads(catalog.get_meta(RETIRED) or "[]") if name != active]
        for name in retired:
            try:
                store.drop_index(name)
            except Exception:  # already gone
                log.debug("retired collection %s was already dropped", name, exc_info=True)
        if retired:
            with catalog.transaction():
                catalog.set_meta(RETIRED, "[]")

    def _prepare(self, source: SourceFile, record: DocumentRecord | None) -> Prepared | DocumentOutcome:
        """Everything before embedding: hash, load, clean, chunk. Runs ahead in a worker thread."""
        info = source.info
        try:
            if not source.path.is_file():
                raise DocumentError("file not found (listed in the manifest?)")
            doc_hash = document_hash(source.path, info, self.settings, self.embedder.name)
            if record and record.content_hash == doc_hash and record.source_path == str(source.path):
                return DocumentOutcome(str(source.path), info.doc_id, "unchanged", record.chunk_count)
            loaded = load_document(source.path)
            if not info.title or info.title == source.path.stem.replace("-", " ").strip():
                info = DocumentInfo(**{**info.__dict__, "title": loaded.title or info.title})
            chunks = build_chunks(info, loaded, doc_hash, self.embedder, self.settings)
            return Prepared(source, info, doc_hash, loaded.page_count, chunks)
        except DocumentError as exc:
            return DocumentOutcome(str(source.path), info.doc_id, "failed", reason=exc.message)
        except Exception as exc:  # a file must never stop the others; the reason is reported by path
            log.debug("failed to ingest %s", source.path, exc_info=True)
            reason = f"could not be read ({type(exc).__name__}: {exc})"
            return DocumentOutcome(str(source.path), info.doc_id, "failed", reason=reason)

    def _ingest_all(self, sources: list[SourceFile], records: dict[str, DocumentRecord], catalog: Catalog,
                    store: ChromaStore, index: ChunkIndex | None, collection: str,
                    summary: IngestSummary) -> ChunkIndex | None:
        """Embed and write each document while the next one is prepared in a worker thread."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-prepare") as pool:
            pending = [pool.submit(self._prepare, s, records.get(s.info.doc_id)) for s in sources[:1]]
            for k in range(len(sources)):
                prepared = pending.pop(0).result()
                if k + 1 < len(sources):
                    nxt = sources[k + 1]
                    pending.append(pool.submit(self._prepare, nxt, records.get(nxt.info.doc_id)))
                if isinstance(prepared, DocumentOutcome):
                    summary.outcomes.append(prepared)
                    continue
                index = self._write(prepared, records.get(prepared.info.doc_id), catalog, store, index,
                                    collection, summary)
                if catalog.active_collection() is None and index is not None:
                    with catalog.transaction():
                        catalog.set_meta("active_collection", index.name)
        return index

    def _write(self, prepared: Prepared, record: DocumentRecord | None, catalog: Catalog, store: ChromaStore,
               index: ChunkIndex | None, collection: str, summary: IngestSummary) -> ChunkIndex | None:
        """Embed one prepared document and make it live atomically."""
        chunks, info = prepared.chunks, prepared.info
        t0 = time.perf_counter()
        try:
            vectors = self.embedder.embed_documents([c.embed_text for c in chunks], progress=self.progress)
        except Exception as exc:
            log.debug("failed to embed %s", prepared.source.path, exc_info=True)
            summary.outcomes.append(DocumentOutcome(str(prepared.source.path), info.doc_id, "failed",
                                                    reason=f"could not be embedded ({type(exc).__name__}: {exc})"))
            return index
        summary.embed_seconds += time.perf_counter() - t0
        if index is None:
            index = store.create_index(collection, model_name=self.embedder.name, dimension=len(vectors[0]))
        index.upsert(chunks, vectors)
        new_record = DocumentRecord(
            doc_id=info.doc_id, source_path=str(prepared.source.path), content_hash=prepared.doc_hash,
            title=info.title, kind=info.kind, region=info.region, edition=info.edition, status=info.status,
            url=info.url, page_count=prepared.page_count, chunk_count=len(chunks),
            chunk_ids=tuple(c.chunk_id for c in chunks))
        with catalog.transaction():
            catalog.put_document(index.name, new_record, extract_contacts(chunks))
        if record:
            live = set(new_record.chunk_ids)
            index.delete([i for i in record.chunk_ids if i not in live])
        status = "updated" if record else "added"
        summary.outcomes.append(DocumentOutcome(str(prepared.source.path), info.doc_id, status, len(chunks)))
        summary.chunks_written += len(chunks)
        return index

    def _sweep(self, catalog: Catalog, index: ChunkIndex) -> None:
        """Delete chunks no catalog record names (an earlier run stopped between its two writes)."""
        live = catalog.live_chunk_ids(index.name)
        orphans = [i for i in index.ids() if i not in live]
        if orphans:
            log.info("removing %d chunks left by an interrupted ingest", len(orphans))
            index.delete(orphans)

    def _remove_missing(self, catalog: Catalog, index: ChunkIndex | None, records: dict[str, DocumentRecord],
                        sources: list[SourceFile], scanned: list[Path], summary: IngestSummary) -> None:
        """Documents that disappeared from a scanned directory leave the index."""
        present = {s.info.doc_id for s in sources}
        for doc_id, record in records.items():
            inside = any(Path(record.source_path).is_relative_to(d) for d in scanned)
            if doc_id in present or not inside:
                continue
            with catalog.transaction():
                catalog.delete_document(index.name if index else "", doc_id)
            if index:
                index.delete(list(record.chunk_ids))
            summary.outcomes.append(DocumentOutcome(record.source_path, doc_id, "removed", record.chunk_count))

    def _switch(self, catalog: Catalog, store: ChromaStore, old: str | None, new: ChunkIndex | None,
                new_name: str, summary: IngestSummary) -> None:
        """Finish a rebuild: make the new collection live only if every document made it."""
        if summary.count("failed") and old is not None:
            summary.error = "rebuild incomplete: the previous index stays in service"
            with catalog.transaction():
                catalog.forget_collection(new_name)
            store.drop_index(new_name)
            return
        if new is None:
            return
        with catalog.transaction():
            catalog.set_meta("active_collection", new.name)
            if old:
                catalog.forget_collection(old)
                # a running service still searches the old collection until it sees the new index version: it is
                # dropped by the next ingest, not now
                retired = json.loads(catalog.get_meta(RETIRED) or "[]")
                catalog.set_meta(RETIRED, json.dumps([*retired, old]))
