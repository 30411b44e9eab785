"""Shared fixtures: the real embedding model (loaded once), settings in tmp dirs, PDF makers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from assistant.embeddings import SentenceTransformerEmbedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REAL_MANUALS = SHARED / "real-manuals"


class CountingEmbedder:
    """The real embedder, counting how many texts it embedded (to prove unchanged files are skipped)."""

    def __init__(self, inner: SentenceTransformerEmbedder, name: str | None = None) -> None:
        self.inner = inner
        self.embedded = 0
        self._name = name

    @property
    def name(self) -> str:
        return self._name or self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: Sequence[str], *, progress: bool = False) -> list[list[float]]:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts, progress=progress)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@pytest.fixture(scope="session")
def real_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", device="cpu")


@pytest.fixture
def embedder(real_embedder: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(real_embedder)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def make_pdf(path: Path, pages: Sequence[Sequence[str]], *, header: str | None = None,
             footer: str | None = "Page {n} of {total}", encrypt: str | None = None) -> Path:
    """A PDF with a real text layer: one list of lines per page, optional running header/footer."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=letter, invariant=1,
                      encrypt=encrypt)  # type: ignore[arg-type]
    width, height = letter
    for n, lines in enumerate(pages, start=1):
        if header:
            c.setFont("Helvetica", 9)
            c.drawString(54, height - 40, header)
        c.setFont("Helvetica", 11)
        y = height - 80
        for line in lines:
            c.drawString(54, y, line)
            y -= 15
        if footer:
            c.setFont("Helvetica", 9)
            c.drawString(54, 30, footer.format(n=n, total=len(pages)))
        c.showPage()
    c.save()
    return path


@pytest.fixture
def pdf_maker():
    return make_pdf


class CorpusIndex:
    """The bundled corpus ingested once per test session, laid out as the evaluation expects it
    (``root/corpus`` is the corpus set's data dir)."""

    def __init__(self, root: Path, summary: object) -> None:
        self.root = root
        self.summary = summary
        self.settings = Settings(data_dir=root / "corpus")


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder) -> CorpusIndex:
    from ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("eval-index")
    summary = Ingestor(Settings(data_dir=root / "corpus"), real_embedder, progress=False).run([ROOT / "corpus"])
    return CorpusIndex(root, summary)
