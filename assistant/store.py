"""The vector store. The only module that talks to chromadb."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.errors import IndexModelMismatch, IndexNotReady
from assistant.schema import Chunk
from assistant.settings import Settings

_WRITE_BATCH = 1000  # well under Chroma's maximum batch size
_READ_BATCH = 10_000  # ids per get(): Chroma's SQLite refuses a query with more than 32,766 of them


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk and its cosine similarity to the query (1.0 = identical)."""

    chunk: Chunk
    score: float


class ChunkIndex:
    """One Chroma collection of chunks, all embedded by one model."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection

    @property
    def name(self) -> str:
        return str(self._collection.name)

    @property
    def model_name(self) -> str:
        return str((self._collection.metadata or {}).get("embedding_model", ""))

    @property
    def dimension(self) -> int:
        return int((self._collection.metadata or {}).get("dimension", 0))

    def check_model(self, model_name: str) -> None:
        """Refuse to mix vectors from two models in one index."""
        if self.model_name != model_name:
            raise IndexModelMismatch(
                f"the index was built with embedding model '{self.model_name}' but '{model_name}' is "
                "configured; re-ingest with --rebuild (or set PA_EMBEDDING_MODEL back)"
            )

    def count(self) -> int:
        return int(self._collection.count())

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        for start in range(0, len(chunks), _WRITE_BATCH):
            batch = chunks[start:start + _WRITE_BATCH]
            self._collection.upsert(
                ids=[c.chunk_id for c in batch],
                embeddings=[list(v) for v in embeddings[start:start + _WRITE_BATCH]],
                documents=[c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _WRITE_BATCH):
            self._collection.delete(ids=list(ids[start:start + _WRITE_BATCH]))

    def ids(self) -> list[str]:
        return list(self._collection.get(include=[])["ids"])

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        by_id: dict[str, Chunk] = {}
        for start in range(0, len(ids), _READ_BATCH):
            got = self._collection.get(ids=list(ids[start:start + _READ_BATCH]), include=["documents", "metadatas"])
            by_id.update((cid, Chunk.from_store(cid, doc or "", meta or {}))
                         for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        return [by_id[i] for i in ids if i in by_id]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids``, in that order (a missing id is an error)."""
        by_id: dict[str, Any] = {}
        for start in range(0, len(ids), _READ_BATCH):
            got = self._collection.get(ids=list(ids[start:start + _READ_BATCH]), include=["embeddings"])
            by_id.update(zip(got["ids"], got["embeddings"], strict=True))
        return np.asarray([by_id[i] for i in ids], dtype=np.float32).reshape(len(ids), self.dimension or -1)

    def query(self, embedding: Sequence[float] | np.ndarray, k: int,
              where: dict[str, Any] | None = None) -> list[ScoredChunk]:
        # no count() first: an empty collection answers with empty lists, and this runs once per question
        res = self._collection.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=k,
                                     where=where, include=["documents", "metadatas", "distances"])
        return [
            ScoredChunk(Chunk.from_store(cid, doc or "", meta or {}), 1.0 - float(dist))
            for cid, doc, meta, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                                            res["distances"][0], strict=True)
        ]


class ChromaStore:
    """A Chroma client: embedded and persistent by default, or a Chroma server when configured."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def open(cls, settings: Settings) -> ChromaStore:
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_host:
            client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                         settings=chroma_settings)
        else:
            settings.chroma_path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
        return cls(client)

    def create_index(self, name: str, *, model_name: str, dimension: int) -> ChunkIndex:
        """A new, empty collection with cosine distance and the model recorded in its metadata."""
        collection = self._client.create_collection(
            name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": model_name, "dimension": dimension},
            embedding_function=None,
        )
        return ChunkIndex(collection)

    def get_index(self, name: str) -> ChunkIndex:
        try:
            return ChunkIndex(self._client.get_collection(name, embedding_function=None))
        except Exception as exc:  # chromadb raises several types for a missing collection
            raise IndexNotReady(f"index collection '{name}' not found; run 'provider-assistant ingest'") from exc

    def index_names(self) -> list[str]:
        return [c.name for c in self._client.list_collections()]

    def drop_index(self, name: str) -> None:
        if name in self.index_names():
            self._client.delete_collection(name)
