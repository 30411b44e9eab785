"""Calibrate the abstention threshold on the bundled-corpus questions.

    .venv/bin/python -m evals.calibrate [--data-dir DIR]

Prints what each answerability check (assistant/answerability.py) refuses and, for each candidate
confidence threshold on top of those checks, abstention precision and recall and how many answerable
questions would be refused; the chosen value goes into Settings.abstain_below (PA_ABSTAIN_BELOW)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def main() -> None:
    from assistant.embeddings import SentenceTransformerEmbedder
    from assistant.index import IndexSnapshot
    from assistant.service import Assistant
    from assistant.settings import Settings
    from evals.questions import default_question_files, load_questions
    from evals.runner import ROOT, build_index

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir / "eval-index" / "corpus")
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    build_index(settings, ROOT / "corpus", embedder)
    assistant = Assistant(settings, IndexSnapshot.open(settings), embedder)
    questions = [q for q in load_questions(default_question_files(ROOT))
                 if q.set == "corpus" and q.conversation is None and not q.urgent]
    prepared = [(assistant.prepare(q.question, None, q.region), q.abstain) for q in questions]
    scored = [(p.confidence.value, p.gap is not None, a) for p, a in prepared]
    n_abstain = sum(a for _, _, a in scored)
    print(f"{len(scored)} questions, {n_abstain} should abstain")
    for reason in sorted({p.gap.reason for p, _ in prepared if p.gap}):
        hits = [a for p, a in prepared if p.gap and p.gap.reason == reason]
        print(f"gap '{reason}': refuses {len(hits)}, {sum(hits)} of them rightly")
    print("threshold  precision  recall  answerable refused   (a gap refuses whatever the threshold)")
    for t in [x / 100 for x in range(0, 31, 1)]:
        said = [a for c, gap, a in scored if gap or c < t]
        tp = sum(said)
        print(f"{t:9.2f}  {tp / len(said) if said else 1.0:9.3f}  {tp / n_abstain if n_abstain else 0:6.3f}  "
              f"{len(said) - tp:4d} of {len(scored) - n_abstain}")


if __name__ == "__main__":
    main()
