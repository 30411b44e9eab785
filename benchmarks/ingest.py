"""Ingestion benchmark: whole-ingest throughput against encoding the same chunks alone, re-ingest cost, memory.

    .venv/bin/python benchmarks/ingest.py [PATH ...]     (default: ../shared/real-manuals, else corpus/)

Prints, in one run on the same documents:
- the whole ingest's chunks/s (two runs' mean; Ingestor.run: load + clean + chunk + embed + write, then the sentence
  vectors and the query adapter fit that make the index ready to serve) and SentenceTransformer.encode's
  chunks/s on exactly the chunk texts the pipeline embedded, at encode's own default batch size; their
  ratio is what everything but encoding the chunks costs (goal: at least 0.5);
- where the ingest's time went, step by step;
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
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ingest.pipeline as pipeline  # noqa: E402
from assistant.embeddings import SentenceTransformerEmbedder  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from ingest.pipeline import Ingestor  # noqa: E402


class Steps:
    """Seconds spent per step of one ingest; encoding is attributed to the step that asked for it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.texts: dict[str, int] = defaultdict(int)
        self.current = "chunks"

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        outer, self.current = self.current, name
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0
            self.current = outer

    def timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.step(name):
                return fn(*args, **kwargs)
        return wrapper


class RecordingEmbedder:
    """The real embedder, remembering the chunk texts it embedded and timing every encode by step."""

    def __init__(self, inner: SentenceTransformerEmbedder, steps: Steps) -> None:
        self.inner = inner
        self.steps = steps
        self.chunk_texts: list[str] = []
        self.name, self.max_tokens = inner.name, inner.max_tokens

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def _timed(self, encode: Callable[[Sequence[str]], list[list[float]]],
               texts: Sequence[str]) -> list[list[float]]:
        """``encode(texts)``, its texts and seconds counted to the current step."""
        self.steps.texts[self.steps.current] += len(texts)
        t0 = time.perf_counter()
        try:
            return encode(texts)
        finally:
            self.steps.seconds[f"{self.steps.current} encode"] += time.perf_counter() - t0

    def embed_documents(self, texts: Sequence[str], *, progress: bool = False) -> list[list[float]]:
        if self.steps.current == "chunks":
            self.chunk_texts.extend(texts)
        return self._timed(self.inner.embed_documents, texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


class TimedIngestor(Ingestor):
    """The real Ingestor, with load + clean + chunk timed (it runs in a worker thread, ahead of embedding)."""

    steps: Steps

    def _prepare(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return super()._prepare(*args, **kwargs)
        finally:
            self.steps.seconds["prepare"] += time.perf_counter() - t0


def ingest(settings: Settings, model: SentenceTransformerEmbedder,
           paths: list[Path]) -> tuple[pipeline.IngestSummary, Steps, list[str]]:
    """One ingest into ``settings.data_dir``, with its step times and the chunk texts it embedded."""
    steps = Steps()
    recorder = RecordingEmbedder(model, steps)
    ingestor = TimedIngestor(settings, recorder, progress=False)  # type: ignore[arg-type]
    ingestor.steps = steps
    saved = pipeline.sentence_vectors, pipeline.query_adapter
    pipeline.sentence_vectors = steps.timed("sentences", pipeline.sentence_vectors)  # type: ignore[assignment]
    pipeline.query_adapter = steps.timed("adapter", pipeline.query_adapter)  # type: ignore[assignment]
    try:
        summary = ingestor.run(paths)
    finally:
        pipeline.sentence_vectors, pipeline.query_adapter = saved  # type: ignore[assignment]
    assert summary.ok, summary.to_text()
    return summary, steps, recorder.chunk_texts


def print_steps(summary: pipeline.IngestSummary, steps: Steps) -> None:
    s = steps.seconds
    writing = summary.seconds - s["chunks encode"] - s["sentences"] - s["adapter"]
    rows = [
        ("load + clean + chunk (worker thread, overlaps the rest)", s["prepare"], None),
        ("chunk encode", s["chunks encode"], steps.texts["chunks"]),
        ("sentence vectors (split, encode, cache write)", s["sentences"], None),
        ("  of which encode", s["sentences encode"], steps.texts["sentences"]),
        ("query adapter (inputs + fit + cache write)", s["adapter"], None),
        ("  of which encode", s["adapter encode"], steps.texts["adapter"]),
        ("  of which the rest (mostly the fit)", s["adapter"] - s["adapter encode"], None),
        ("the rest: Chroma + catalog writes, waiting on the worker", writing, None),
    ]
    print("\nsteps of the measured ingest:")
    for label, seconds, texts in rows:
        extra = f"  ({texts} texts)" if texts is not None else ""
        print(f"  {label:58s} {seconds:6.1f} s{extra}")


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

    def encode_alone(texts: list[str]) -> tuple[float, float]:
        """Wall and CPU seconds of encoding ``texts`` at encode's own default batch size."""
        t0, c0 = time.perf_counter(), time.process_time()
        model.model.encode(texts, normalize_embeddings=True)
        return time.perf_counter() - t0, time.process_time() - c0

    with tempfile.TemporaryDirectory() as tmp:
        # A warm-up pass: torch on the CPU is slower the first time it meets each batch shape, so the
        # measured ingest and the encodes alone all see the same, already-met shapes.
        _, _, texts = ingest(Settings(data_dir=Path(tmp) / "warmup"), model, paths)
        # the encodes alone bracket the measured ingest, so a load that drifts meanwhile weighs on both
        # two measured ingests into fresh data dirs, each between two encodes alone, so both sides of the ratio
        # are a mean of two runs under the same load
        raws, runs = [encode_alone(texts)], []
        for k in range(2):
            settings = Settings(data_dir=Path(tmp) / f"data{k}")
            c0 = time.process_time()
            first, steps, texts = ingest(settings, model, paths)
            runs.append((first.seconds, time.process_time() - c0))
            raws.append(encode_alone(texts))
        t_raw, cpu_raw = (sum(r[0] for r in raws) / len(raws), sum(r[1] for r in raws) / len(raws))
        t_pipeline, cpu_pipeline = sum(r[0] for r in runs) / len(runs), sum(r[1] for r in runs) / len(runs)
        again = Ingestor(settings, model, progress=False).run(paths)
        assert again.chunks_written == 0 and again.count("unchanged") == first.count("added")

    n = first.chunks_written
    assert n == len(texts)
    print(f"\nchunks: {n} from {first.count('added')} documents")
    print(f"whole ingest: {t_pipeline:7.1f} s  {n / t_pipeline:6.2f} chunks/s  (Ingestor.run, every step; mean of "
          f"two runs: {runs[0][0]:.1f} and {runs[1][0]:.1f} s; CPU {cpu_pipeline:.1f} s)")
    print(f"encode alone: {t_raw:7.1f} s  {n / t_raw:6.2f} chunks/s  (the same chunk texts, SentenceTransformer.encode "
          f"at its default batch size; mean of three runs around the two ingests; CPU {cpu_raw:.1f} s)")
    print(f"whole ingest / encode alone throughput: {t_raw / t_pipeline:.3f}   (goal >= 0.5; "
          f"in CPU time {cpu_raw / cpu_pipeline:.3f})")
    print(f"load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print_steps(first, steps)  # the second measured ingest
    print(f"\nunchanged re-ingest (in-process): {again.seconds:.2f} s = {again.seconds / t_pipeline:.3f} of the first")
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
