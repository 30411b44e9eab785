"""A read-only view of the live index: the active collection, its chunks, documents and contacts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.catalog import Catalog, DocumentRecord
from assistant.errors import IndexNotReady
from assistant.profile import PROFILE_META
from assistant.schema import Chunk, Contact
from assistant.settings import Settings
from assistant.store import ChromaStore, ChunkIndex

_NUMBERED = re.compile(r"^\d+(\.\d+)*\s")  # a numbered section's title ("8.10 Initial Credentialing")


@dataclass
class IndexSnapshot:
    """What one ingest made live, loaded once: chunks in document order, documents and contacts."""

    collection: str
    index: ChunkIndex
    chunks: dict[str, Chunk]
    documents: dict[str, DocumentRecord]
    contacts: list[Contact]
    version: str | None = None  # the completed ingest this snapshot shows
    profile: str | None = None  # the plan profile ingest kept with the index (see assistant/profile.py)

    @classmethod
    def open(cls, settings: Settings, store: ChromaStore | None = None, *, complete_only: bool = True) -> IndexSnapshot:
        """Load the active collection; IndexNotReady when nothing has been ingested, or (``complete_only``) while
        the first ingest is still running: a service must not answer from part of the corpus."""
        if not settings.catalog_path.is_file():
            raise IndexNotReady(f"no index in {settings.data_dir}; run 'provider-assistant ingest' first")
        catalog = Catalog(settings.catalog_path)
        try:
            collection = catalog.active_collection()
            version = catalog.index_version()
            if collection is None:
                raise IndexNotReady(f"no index in {settings.data_dir}; run 'provider-assistant ingest' first")
            if complete_only and version is None:
                raise IndexNotReady(f"the first ingest into {settings.data_dir} has not finished (or the index was "
                                    "built before index versions: run 'provider-assistant ingest' once); the "
                                    "service starts answering when it completes")
            documents = catalog.documents(collection)
            contacts = catalog.contacts(collection)
            profile = catalog.get_meta(PROFILE_META)
        finally:
            catalog.close()
        index = (store or ChromaStore.open(settings)).get_index(collection)
        live = [cid for record in documents.values() for cid in record.chunk_ids]
        chunks = sorted(index.get(live), key=lambda c: (c.doc_id, c.n))
        return cls(collection, index, {c.chunk_id: c for c in chunks}, documents, contacts, version, profile)

    def neighbours(self, chunk: Chunk, before: int = 1, after: int = 1) -> list[Chunk]:
        """The chunk with its neighbours in the same document, in document order."""
        ids = self.documents[chunk.doc_id].chunk_ids if chunk.doc_id in self.documents else (chunk.chunk_id,)
        ordered = sorted((self.chunks[i] for i in ids if i in self.chunks), key=lambda c: c.n)
        pos = next((i for i, c in enumerate(ordered) if c.chunk_id == chunk.chunk_id), 0)
        return ordered[max(0, pos - before): pos + after + 1]

    def section_context(self, chunk: Chunk) -> list[Chunk]:
        """What else of its section a chunk needs to answer: the chunks before and after it that continue the
        same section (a long section is cut in several), and the next chunk when it opens a subsection of the
        chunk's section ("4.6 How to Request an Authorization", then "4.6.1 What to Include")."""
        number = chunk.section.split()[0] if _NUMBERED.match(chunk.section) else None
        out = []
        for c in self.neighbours(chunk):
            if c.chunk_id == chunk.chunk_id:
                continue
            child = number is not None and c.n > chunk.n and c.section.split()[0].startswith(number + ".")
            if c.section == chunk.section or child:
                out.append(c)
        return out
