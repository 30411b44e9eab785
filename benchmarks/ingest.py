"""Ingestion benchmark: pipeline throughput against raw encode throughput, re-ingest cost, memory.

    .venv/bin/python benchmarks/ingest.py [PATH ...]     (default: ../shared/real-manuals, else corpus/)

Prints, in one run on the same documents:
- the pipeline's chunks/s (load + clean + chunk + embed + write) and SentenceTransformer.encode's
  chunks/s on exactly the chunk texts the pipeline embedded; their ratio is the pipeline's overhead
  (goal: at least 0.85);
- the unchanged re-ingest time against the first ingest, in-process and as two CLI runs;
- peak resident memory of this process and of the CLI children.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.embeddings import SentenceTransformerEmbedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402


class RecordingEmbedder:
    """The real embedder, remembering the texts it was asked to embed."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.texts: list[str] = []
        self.name, self.max_tokens = inner.name, inner.max_tokens

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: Sequence[str], *, progress: bool = False) -> list[list[float]]:
        self.texts.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def cli_ingest(paths: list[Path], data_dir: Path) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "provider_assistant_cli", "ingest", *map(str, paths),
                          "--data-dir", str(data_dir)], capture_output=True, text=True, cwd=ROOT, check=False)
    return time.perf_counter() - started, out.stdout.strip().splitlines()[0] if out.stdout else out.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--skip-cli", action="store_true", help="skip the two CLI runs")
    args = parser.parse_args()
    real = ROOT.parent / "shared" / "real-manuals"
    paths = args.paths or [real if real.is_dir() else ROOT / "corpus"]
    print(f"documents: {', '.join(map(str, paths))}")

    t0 = time.perf_counter()
    model = SentenceTransformerEmbedder("all-MiniLM-L6-v2", device="cpu")
    model.embed_query("warm up")
    print(f"model load: {time.perf_counter() - t0:.1f} s (not counted below)")

    def raw_encode() -> float:
        t0 = time.perf_counter()
        model.model.encode(recorder.texts, batch_size=settings.embedding_batch_size, normalize_embeddings=True)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        # A warm-up pass: torch on the CPU is slower the first time it meets each batch shape, so the
        # measured pipeline run and the raw encodes all see the same, already-met shapes.
        settings = Settings(data_dir=Path(tmp) / "warmup")
        recorder = RecordingEmbedder(model)
        assert Ingestor(settings, recorder, progress=False).run(paths).ok
        t_raw_before = raw_encode()

        settings = Settings(data_dir=Path(tmp) / "data")
        first = Ingestor(settings, recorder, progress=False).run(paths)
        assert first.ok, first.to_text()
        n, t_pipeline = first.chunks_written, first.seconds
        t_raw = (t_raw_before + raw_encode()) / 2

        again = Ingestor(settings, recorder, progress=False).run(paths)
        assert again.chunks_written == 0 and again.count("unchanged") == first.count("added")

    print(f"\nchunks: {n} from {first.count('added')} documents")
    print(f"pipeline: {t_pipeline:7.1f} s  {n / t_pipeline:6.2f} chunks/s  "
          f"(of which embedding {first.embed_seconds:.1f} s)")
    print(f"raw encode: {t_raw:5.1f} s  {n / t_raw:6.2f} chunks/s  (mean of a run before and after)")
    print(f"pipeline / raw throughput: {t_raw / t_pipeline:.3f}   (goal >= 0.85)")
    print(f"unchanged re-ingest (in-process): {again.seconds:.2f} s = {again.seconds / t_pipeline:.3f} of the first")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")

    if not args.skip_cli:
        with tempfile.TemporaryDirectory() as tmp:
            t_first, line1 = cli_ingest(paths, Path(tmp))
            t_again, line2 = cli_ingest(paths, Path(tmp))
        print(f"\nCLI first ingest:     {t_first:6.1f} s  ({line1})")
        print(f"CLI unchanged ingest: {t_again:6.1f} s  ({line2})")
        print(f"CLI re-ingest / first: {t_again / t_first:.3f}   (goal < 0.10)")
        print(f"peak RSS of a CLI run: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
