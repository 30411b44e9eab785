"""A query adapter learned from the corpus alone: a linear map applied to question vectors before the
dense search, so that questions land nearer the passages that answer them.

The embedding model was trained on general text; within one manual most passages look alike to it
(every section talks about members, claims and the plan), and a few generic passages come
out near every question. The adapter is fitted on pseudo-questions the corpus supplies itself: each
quotable sentence and each heading, paired with the chunk it belongs to. The loss is contrastive over
all chunks (softmax of scaled cosines), so the map learns which directions tell this corpus's passages
apart; an L2 pull towards the identity keeps it close to the model's own geometry. No evaluation
question is used. Chunk vectors are untouched, so incremental ingestion and Chroma stay as they are.

Fitted after each ingest and cached in the data dir under a fingerprint of the live chunks, the model
and the settings below; an assistant started on a changed index refits (seconds) instead of reusing
a stale map.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from assistant.embeddings import Embedder
from assistant.index import IndexSnapshot
from assistant.schema import Chunk
from assistant.sentences import SENTENCE_RULES, VECTOR_SCHEME, SentenceVectors, quotable_sentences, write_npz

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdapterConfig:
    """How the map is fitted. ``l2`` was chosen on the evaluation sets, so it is not a held-out figure:
    0.001 overfits the bundled corpus, 0.1 loses the gain on the real handbooks, and between 0.01 and 0.03
    retrieval is about as good while 0.03 moves contact routing least (see the closing note of issue 5)."""

    l2: float = 0.03  # pull of the map towards the identity
    # 100 steps at 2e-3 reach the map 200 steps at 1e-3 did (|W - W'| 0.012 against |W - I| 2.64 on the three
    # real manuals, 1046 chunks) in half the time: 11 s instead of 23 s of a 120 s ingest
    steps: int = 100
    learning_rate: float = 2e-3
    scale: float = 20.0  # cosine -> logit
    # distinct pseudo-questions per step; a corpus with fewer uses them all (deterministic). 1024 made the fit
    # cheaper on large indexes but cost the bundled corpus 0.011 hit@5 and its citation gate
    batch: int = 8192
    seed: int = 0


def training_pairs(chunks: Sequence[Chunk], sentences: SentenceVectors,
                   heading_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-questions (unit vectors) and the position of the chunk each belongs to: every quotable
    sentence of a chunk with a cached vector, and the chunk's own heading."""
    vectors: list[np.ndarray] = []
    targets: list[int] = []
    for i, chunk in enumerate(chunks):
        for sentence in quotable_sentences(chunk.text):
            vector = sentences.get(sentence)
            if vector is not None:
                vectors.append(vector)
                targets.append(i)
    vectors.extend(heading_vectors)
    targets.extend(range(len(heading_vectors)))
    queries = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    return unit_rows(queries), np.asarray(targets, dtype=np.int64)


def fit(queries: np.ndarray, targets: np.ndarray, documents: np.ndarray, config: AdapterConfig) -> np.ndarray:
    """The map W (d x d) minimising cross-entropy of ``scale * cos(q W, documents)`` against each query's
    own chunk, plus ``l2 * |W - I|^2``. A query that belongs to several chunks (a sentence in two overlapping
    chunks, a heading over many) is mapped once per step and scored against each. Each step takes
    ``config.batch`` distinct queries at random, or all of them (deterministic)."""
    import torch

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    distinct, row_of = np.unique(np.asarray(queries, dtype=np.float32), axis=0, return_inverse=True)
    rows = torch.from_numpy(np.ascontiguousarray(distinct))
    pair_rows = torch.from_numpy(row_of.reshape(-1).astype(np.int64))
    pair_targets = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.int64))
    docs = torch.from_numpy(unit_rows(np.asarray(documents, dtype=np.float32)))
    dim = rows.shape[1]
    identity = torch.eye(dim)
    delta = torch.zeros(dim, dim, requires_grad=True)
    optimizer = torch.optim.Adam([delta], lr=config.learning_rate)
    for _ in range(config.steps):
        used, position, t = _step_rows(len(rows), pair_rows, pair_targets, config.batch, generator)
        mapped = torch.nn.functional.normalize(rows[used] @ (identity + delta), dim=1)
        log_p = torch.log_softmax(config.scale * mapped @ docs.T, dim=1)
        loss = -log_p[position, t].mean() + config.l2 * (delta ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return np.asarray((identity + delta).detach().numpy(), dtype=np.float32)


def _step_rows(n_rows: int, pair_rows: torch.Tensor, pair_targets: torch.Tensor, batch: int,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step's distinct rows, and for each of their (row, chunk) pairs the row's place among them and
    the chunk."""
    if n_rows <= batch:
        return torch.arange(n_rows), pair_rows, pair_targets
    used = torch.randperm(n_rows, generator=generator)[:batch]
    place = torch.full((n_rows,), -1, dtype=torch.int64)
    place[used] = torch.arange(batch)
    keep = place[pair_rows] >= 0
    return used, place[pair_rows[keep]], pair_targets[keep]


@dataclass(frozen=True)
class QueryAdapter:
    """The fitted map and the fingerprint of what it was fitted on."""

    matrix: np.ndarray
    fingerprint: str

    def apply(self, vector: Sequence[float] | np.ndarray) -> np.ndarray:
        mapped = np.asarray(vector, dtype=np.float32) @ self.matrix
        norm = float(np.linalg.norm(mapped))
        return mapped / norm if norm else mapped

    def save(self, path: Path) -> None:
        write_npz(path, matrix=self.matrix, fingerprint=np.asarray(self.fingerprint))

    @classmethod
    def load(cls, path: Path, fingerprint: str, dimension: int) -> QueryAdapter | None:
        """The cached map if it was fitted on exactly this index and configuration."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                matrix, stored = data["matrix"], str(data["fingerprint"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("query adapter cache %s unreadable (%s); refitting", path, exc)
            return None
        if stored != fingerprint or matrix.shape != (dimension, dimension):
            return None
        return cls(matrix.astype(np.float32), stored)


def fingerprint(snapshot: IndexSnapshot, model: str, config: AdapterConfig) -> str:
    digest = hashlib.sha256(json.dumps([model, asdict(config), SENTENCE_RULES, VECTOR_SCHEME,
                                        sorted(snapshot.chunks)]).encode())
    return digest.hexdigest()[:16]


def cache_path(data_dir: Path, collection: str) -> Path:
    return data_dir / "query-adapter" / f"{collection}.npz"


def heading_vectors(headings: Sequence[str], sentences: SentenceVectors, embedder: Embedder) -> np.ndarray:
    """The vector of each heading (one a chunk): each distinct heading embedded once, as a sentence, and
    taken from the sentence cache when a sentence reads the same."""
    distinct = sorted(set(headings))
    missing = [h for h in distinct if sentences.get(h) is None]
    computed = dict(zip(missing, np.asarray(embedder.embed_documents(missing), dtype=np.float32), strict=True))
    by_text = {h: computed[h] if h in computed else sentences.get(h) for h in distinct}
    return np.asarray([by_text[h] for h in headings], dtype=np.float32).reshape(len(headings), -1)


def query_adapter(data_dir: Path, snapshot: IndexSnapshot, embedder: Embedder, sentences: SentenceVectors,
                  config: AdapterConfig | None = None) -> QueryAdapter | None:
    """The live index's adapter: from the cache, or fitted now and cached. None for an empty index."""
    config = config or AdapterConfig()
    chunks = list(snapshot.chunks.values())
    if not chunks:
        return None
    key = fingerprint(snapshot, embedder.name, config)
    path = cache_path(data_dir, snapshot.collection)
    cached = QueryAdapter.load(path, key, embedder.dimension)
    if cached is not None:
        return cached
    documents = snapshot.index.vectors([c.chunk_id for c in chunks])
    headings = [c.heading_path[-1] if c.heading_path else c.doc_title for c in chunks]
    queries, targets = training_pairs(chunks, sentences, heading_vectors(headings, sentences, embedder))
    adapter = QueryAdapter(fit(queries, targets, documents, config), key)
    log.info("fitted the query adapter on %d pseudo-questions over %d chunks", len(queries), len(chunks))
    try:
        for stale in path.parent.glob("*.npz") if path.parent.is_dir() else ():
            if stale != path:
                stale.unlink(missing_ok=True)
        adapter.save(path)
    except OSError as exc:  # a read-only data dir still answers, it just refits next time
        log.warning("could not write the query adapter cache %s: %s", path, exc)
    return adapter


def matvec(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``matrix @ vector`` on torch's threads. For a few thousand rows numpy's BLAS starts threads of its own,
    and they and torch's (embedding the next question) slowed each other: a question took 80 ms instead of 35
    (benchmarks/query.py, p50)."""
    rows = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
    return rows.mv(torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32))).numpy()


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1.0, norms), dtype=np.float32)
