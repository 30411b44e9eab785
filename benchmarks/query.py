"""Query benchmark: warm answer latency of the assistant against the naive LangChain pipeline.

    .venv/bin/python benchmarks/query.py [--questions N] [--data-dir DIR]

On the bundled corpus (indexed into DIR, default a temporary folder), in one run:
- the assistant's warm answer latency p50/p95 (extractive mode), total and per stage
  (screen, retrieve, answer); goal on a 2-core machine: p50 <= 50 ms, p95 <= 150 ms;
- the naive LangChain pipeline of the evaluation (RecursiveCharacterTextSplitter 1000/200, Chroma
  similarity search, top passages pasted as the answer) on the same questions;
- peak resident memory of this process.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.embeddings import SentenceTransformerEmbedder  # noqa: E402
from assistant.index import IndexSnapshot  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402
from evals.metrics import percentile  # noqa: E402
from evals.questions import default_question_files, load_questions  # noqa: E402
from evals.runner import build_index  # noqa: E402
from evals.systems import NaiveLangChainBaseline, naive_sources  # noqa: E402


def timed(fn, items) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(name: str, ms: list[float]) -> str:
    return (f"{name:<28} p50 {percentile(ms, 50):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   "
            f"mean {statistics.mean(ms):7.1f} ms   n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="pa-bench-"))
    settings = Settings(data_dir=data_dir)
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    print(f"index: {build_index(settings, ROOT / 'corpus', embedder)}")
    started = time.perf_counter()
    assistant = Assistant(settings, IndexSnapshot.open(settings), embedder)
    print(f"assistant ready in {time.perf_counter() - started:.1f} s (index loaded, BM25 and vocabulary built)")
    questions = [q for q in load_questions(default_question_files(ROOT)) if q.set == "corpus"][: args.questions]
    texts = [q.question for q in questions]
    for text in texts[:10]:  # warm: model loaded, torch kernels for these shapes compiled
        assistant.ask(text)
    stages: dict[str, list[float]] = {}

    def ask(text: str) -> None:
        answer = assistant.ask(text)
        for stage, ms in answer["timings_ms"].items():
            stages.setdefault(stage, []).append(float(ms))

    total = timed(ask, texts)
    naive = NaiveLangChainBaseline(naive_sources(assistant.snapshot), assistant.snapshot, embedder,
                                   data_dir / "naive")
    for q in questions[:10]:
        naive.answer(q, None)
    naive_ms = timed(lambda q: naive.answer(q, None), questions)
    print()
    print(line("assistant (wall clock)", total))
    for stage, ms in stages.items():
        print(line(f"  stage {stage}", ms))
    print(line("naive LangChain baseline", naive_ms))
    p50, p95 = percentile(total, 50), percentile(total, 95)
    print(f"\ngoal p50 <= 50 ms: {'met' if p50 <= 50 else 'NOT met'} ({p50:.1f}); "
          f"goal p95 <= 150 ms: {'met' if p95 <= 150 else 'NOT met'} ({p95:.1f})")
    print(f"assistant / naive p50 ratio: {p50 / percentile(naive_ms, 50):.2f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
