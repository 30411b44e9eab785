"""Time to first streamed event on a warm server.

    .venv/bin/python benchmarks/stream.py [--url http://127.0.0.1:8000] [--n 50]

Sends questions from the bundled-corpus set to POST /api/chat/stream on a running service after a warm-up
(start it with `PA_RATE_LIMITS='{"chat": "100000/minute"}' make run`: one client asking 105 questions in a
minute is over the default per-client limit), and prints p50/p95 of the time to the first event, to the first
answer text (first `delta`) and to `done`, beside POST /api/chat for the same questions."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evals.metrics import percentile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    lines = (ROOT / "evals/questions/corpus-manual-a.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines][: args.n]
    first, first_text, done, plain = [], [], [], []
    with httpx.Client(base_url=args.url, timeout=60) as client:
        for q in questions[:5]:
            if client.post("/api/chat", json={"message": q}).status_code == 429:
                sys.exit("the service's per-client chat limit refused the benchmark: start it with a higher "
                         "PA_RATE_LIMITS (see the docstring)")
        for q in questions:
            start = time.perf_counter()
            seen_first = seen_text = None
            with client.stream("POST", "/api/chat/stream", json={"message": q}) as response:
                if response.status_code != 200:
                    sys.exit(f"POST /api/chat/stream answered {response.status_code}; see the docstring")
                for line in response.iter_lines():
                    now = (time.perf_counter() - start) * 1000
                    if line.startswith("event:"):
                        seen_first = seen_first or now
                        if line.endswith("delta") and seen_text is None:
                            seen_text = now
            first.append(seen_first or 0.0)
            first_text.append(seen_text or 0.0)
            done.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            client.post("/api/chat", json={"message": q})
            plain.append((time.perf_counter() - start) * 1000)
    for name, values in (("stream: first event", first), ("stream: first answer text", first_text),
                         ("stream: done", done), ("POST /api/chat", plain)):
        print(f"{name:<28} p50 {percentile(values, 50):6.1f} ms   "
              f"p95 {percentile(values, 95):6.1f} ms   n={len(values)}")


if __name__ == "__main__":
    main()
