"""Dense vectors of the sentences the answerer may quote, so it can pick the sentence that means what the
question asks even when it shares few words with it ("timely filing limit" -> "within 365 days of the
date of service").

Vectors are computed once per sentence text and model and kept in the data dir; ingestion fills the
cache for the index it makes live, and the assistant computes whatever is still missing when it starts.
They are encoded in batches whose padding depends on each text alone (``embed_documents``), so a cache
filled document by document holds the same vectors as one filled in one pass.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from assistant.embeddings import Embedder
from assistant.index import IndexSnapshot
from assistant.schema import Chunk

log = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|\n+|(?<=:)\s+(?=[A-Z])|\s+(?=- )|\s*[·•▪]\s+")
_ABBREV_END = re.compile(r"\b(?:e\.g|i\.e|etc|No|Dr|Mr|Ms|Mrs|St|vs|U\.S|a\.m|p\.m)\.$|\bP\.(?:\s?O\.)?$")
# a street address or post-office box as printed (what the answerer joins to its lead-in, and what a question
# asking for an address needs)
POSTAL_ADDRESS = re.compile(r"\b\d{1,6}\s+(?:[NSEW]\.?\s+)?(?-i:(?:[A-Z][A-Za-z]+\s+){1,3})(?:Street|St|Avenue|Ave|"
                            r"Boulevard|Blvd|Road|Rd|Drive|Dr|Way|Parkway|Pkwy|Lane|Ln|Place|Pl|Plaza|Court|Ct|Circle|"
                            r"Cir|Highway|Hwy|Center|Square)\b"
                            r"|\b(?:P\.?\s?O\.?|Post Office)\s+Box\s+\d+", re.IGNORECASE)
_STATE_ZIP = re.compile(r"\b[A-Z]{2},?\s+\d{5}(?:-\d{4})?\b")  # "Boise, ID 83707"


# How sentences are cut is part of what the query adapter is fitted on (its pseudo-questions): change this
# whenever the splitting changes, so a data dir made by an older version refits instead of reusing a stale map.
SENTENCE_RULES = "1"


# The marker that opens an item of a list: a bullet, "o ", "1.", "a)", "(iv)" (ingest reads lists by it; an
# answer quotes an item with the sentence introducing its list)
LIST_START = re.compile(r"^(?:[•●▪◦■□➢✓*-]\s|o\s|\d{1,3}[.)]\s|[a-z][.)]\s|\([a-z0-9ivx]{1,4}\)\s)")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of a passage (abbreviations like "e.g." do not end a sentence)."""
    parts: list[str] = []
    buffer = ""
    for piece in _SENTENCE_END.split(text):
        piece = piece.strip()
        if not piece:
            continue
        buffer = f"{buffer} {piece}".strip() if buffer else piece
        if _ABBREV_END.search(buffer):
            continue
        parts.append(buffer)
        buffer = ""
    if buffer:
        parts.append(buffer)
    return _with_addresses([p.lstrip("- ").strip() for p in parts if len(p.strip("- ")) > 2])


def _with_addresses(parts: list[str]) -> list[str]:
    """A lead-in ending in a colon ("Mail the form and attachments to:") joined with the address printed on the
    lines after it: quoted alone, it tells a provider to mail something and not where."""
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if part.endswith(":"):
            for span in (1, 2):  # the address, or a name line and then the address
                following = parts[i + 1:i + 1 + span]
                last = following[-1] if len(following) == span else ""
                if (POSTAL_ADDRESS.search(last) or _STATE_ZIP.search(last)) and all(len(f) <= 200 for f in following):
                    part = " ".join([part, *following])
                    i += span
                    break
        out.append(part)
        i += 1
    return out


# A table flattened by PDF extraction reads as one long run: "Standard pre-service 14 calendar days Expedited
# pre-service 72 hours Concurrent review ...". A row ends after its time and before the next row's capital.
_ROW_END = re.compile(r"(?:(?<=days)|(?<=hours)|(?<=months)|(?<=years)|(?<=weeks))\s+(?=[A-Z])")
_ROW_TIME = re.compile(r"\b\d+ (?:calendar |business |working )?(?:days|hours|months|years|weeks)\b")


def quotable_sentences(text: str) -> list[str]:
    """The sentences an answer may quote: ``split_sentences``, with a flattened table (three or more times
    in one long run) cut into its rows, so "Corrected or replacement claim 180 days" can be quoted alone."""
    out: list[str] = []
    for sentence in split_sentences(text):
        if len(sentence) > 160 and len(_ROW_TIME.findall(sentence)) >= 3:
            out.extend(row.strip() for row in _ROW_END.split(sentence) if len(row.strip()) > 2)
        else:
            out.append(sentence)
    return out


def sentence_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# How sentence vectors are encoded (the padding of ``embed_documents``): part of the cache's name, so a cache
# written another way is recomputed once rather than mixed with vectors of this way.
VECTOR_SCHEME = "padded4"


def cache_path(data_dir: Path, model: str) -> Path:
    return data_dir / "sentence-vectors" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', model)}.{VECTOR_SCHEME}.npz"


class SentenceVectors:
    """Unit vectors of sentences, by sentence text; a dot product with a query vector is the cosine."""

    def __init__(self, vectors: dict[str, np.ndarray], dimension: int) -> None:
        self._vectors = vectors
        self.dimension = dimension

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(sentence_key(text))

    def similarity(self, query_vector: np.ndarray, text: str) -> float | None:
        vector = self.get(text)
        return None if vector is None else float(vector @ query_vector)

    @classmethod
    def load(cls, path: Path, dimension: int) -> SentenceVectors:
        """The cached vectors, or none when the file is missing, unreadable or of another dimension."""
        if not path.is_file():
            return cls({}, dimension)
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, matrix = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("sentence vector cache %s unreadable (%s); recomputing", path, exc)
            return cls({}, dimension)
        if matrix.ndim != 2 or matrix.shape[1] != dimension or len(keys) != len(matrix):
            return cls({}, dimension)
        return cls({str(k): matrix[i] for i, k in enumerate(keys)}, dimension)

    def save(self, path: Path, keep: Iterable[str] | None = None) -> None:
        """Write atomically; ``keep`` (sentence texts) drops vectors of sentences no longer indexed."""
        wanted = {sentence_key(t) for t in keep} if keep is not None else set(self._vectors)
        keys = sorted(k for k in self._vectors if k in wanted)
        matrix = np.stack([self._vectors[k] for k in keys]) if keys else np.zeros((0, self.dimension), np.float32)
        write_npz(path, keys=np.asarray(keys, dtype="U40"), vectors=matrix.astype(np.float32))

    def add_missing(self, texts: Sequence[str], embedder: Embedder) -> int:
        """Embed the texts not yet cached; how many were added."""
        missing = sorted({t for t in texts if sentence_key(t) not in self._vectors})
        if not missing:
            return 0
        vectors = np.asarray(embedder.embed_documents(missing), dtype=np.float32)
        for text, vector in zip(missing, vectors, strict=True):
            self._vectors[sentence_key(text)] = vector
        return len(missing)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write an .npz cache atomically: a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def chunk_sentences(chunks: Iterable[Chunk]) -> list[str]:
    return [s for c in chunks for s in quotable_sentences(c.text)]


def sentence_vectors(data_dir: Path, snapshot: IndexSnapshot, embedder: Embedder) -> SentenceVectors:
    """The vectors of every sentence of the live index: from the cache, with any missing ones computed
    and the cache rewritten (pruned to the live sentences)."""
    path = cache_path(data_dir, embedder.name)
    vectors = SentenceVectors.load(path, embedder.dimension)
    texts = chunk_sentences(snapshot.chunks.values())
    added = vectors.add_missing(texts, embedder)
    if added:
        log.info("embedded %d sentences for answer selection (%d cached)", added, len(vectors) - added)
        try:
            vectors.save(path, keep=texts)
            path.with_name(path.name.removesuffix(f".{VECTOR_SCHEME}.npz") + ".npz").unlink(missing_ok=True)
        except OSError as exc:  # a read-only data dir still answers, it just recomputes next time
            log.warning("could not write the sentence vector cache %s: %s", path, exc)
    return vectors
