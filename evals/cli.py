"""`provider-assistant eval`: run question sets and write the report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.settings import Settings
    from evals.questions import Question

HELP = "score the assistant and the baselines on question sets and write a report"
DESCRIPTION = """\
Run question sets (JSONL, see evals/questions/README.md) through the system under test and the
baselines (BM25 only, dense only, a naive LangChain pipeline) and write to --out:
rows.jsonl (one row per question and system), summary.json, report.md (failed questions first)
and PNG charts.

corpus-*.jsonl questions run on the bundled corpus, real-*.jsonl on the real handbooks
(--real-manuals; skipped when that folder is absent). Each set gets its own index under
DATA_DIR/eval-index, updated incrementally.

exit status: 0 done (and the gate passed, with --gate), 1 the gate failed or a question errored,
2 usage error"""


def add_parser(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    from evals.runner import BASELINES, SET_SOURCES

    p = subparsers.add_parser("eval", parents=[parent], help=HELP, description=DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*", type=Path, metavar="FILE",
                   help="question files (default: every evals/questions/*.jsonl)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: DATA_DIR/eval-report)")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help="comma-separated baselines to run beside the system, or 'none' "
                   f"(default: {','.join(BASELINES)})")
    p.add_argument("--gate", nargs="?", const="default", default=None, metavar="THRESHOLDS",
                   help="exit 1 when a headline metric misses its threshold (default file: evals/thresholds.yaml)")
    p.add_argument("--real-manuals", type=Path, default=SET_SOURCES["real"],
                   help="folder of the real handbooks for real-*.jsonl (default: ../shared/real-manuals)")
    p.add_argument("--ablate", nargs="?", const="all", default=None, metavar="COMPONENTS",
                   help="run the assistant once with the default components and once with each component switched: "
                   "off, or on for one the defaults leave off (comma-separated names, default all; see "
                   "assistant/components.py); writes ablation.md and ablation.json instead of the report "
                   "(no baselines)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from assistant.settings import get_settings
    from evals.gate import THRESHOLDS, check_gate, load_thresholds
    from evals.questions import QuestionFileError, default_question_files, load_questions
    from evals.report import render_charts, render_report
    from evals.runner import BASELINES, ROOT, SET_SOURCES, EvalConfig, run_eval, write_rows
    from evals.suts import default_system_factory

    files = list(args.files) or default_question_files(ROOT)
    missing = [str(f) for f in files if not f.is_file()]
    baselines = [] if args.baselines == "none" else [b for b in args.baselines.split(",") if b]
    unknown = [b for b in baselines if b not in BASELINES]
    if missing or unknown or not files:
        why = (f"no such file: {', '.join(missing)}" if missing else
               f"unknown baseline(s) {unknown}; choose from {list(BASELINES)}" if unknown else "no question files")
        print(f"provider-assistant eval: {why}", file=sys.stderr)
        return 2
    try:
        questions = load_questions(files)
    except QuestionFileError as exc:
        print(f"provider-assistant eval: {exc}", file=sys.stderr)
        return 2
    settings = get_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    out: Path = args.out or settings.data_dir / "eval-report"
    out.mkdir(parents=True, exist_ok=True)
    if args.ablate:
        return run_ablate(args, questions, settings, out)
    config = EvalConfig(questions=questions, index_root=settings.data_dir / "eval-index",
                        system_factory=default_system_factory(), baselines=baselines,
                        sources={**SET_SOURCES, "real": args.real_manuals}, base_settings=settings)
    summary, rows = run_eval(config)
    write_rows(rows, out / "rows.jsonl")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    charts = render_charts(summary, rows, out)
    (out / "report.md").write_text(render_report(summary, rows, charts), encoding="utf-8")
    failures = check_gate(summary, load_thresholds(THRESHOLDS if args.gate == "default" else Path(args.gate))) \
        if args.gate else []
    errors = sum(1 for r in rows if r["error"])
    print(one_line_summary(summary))
    print(f"report: {out / 'report.md'}")
    for line in failures:
        print(f"GATE FAILED: {line}")
    if errors:
        print(f"{errors} question(s) raised an error (see report.md)")
    return 1 if failures or errors else 0


def run_ablate(args: argparse.Namespace, questions: list[Question], settings: Settings, out: Path) -> int:
    from assistant.components import COMPONENTS
    from evals.ablation import render_ablation, run_ablation
    from evals.runner import SET_SOURCES, EvalConfig

    names = list(COMPONENTS) if args.ablate == "all" else [c for c in args.ablate.split(",") if c]
    unknown = [c for c in names if c not in COMPONENTS]
    if unknown or not names:
        print(f"provider-assistant eval: unknown component(s) {unknown}; choose from {sorted(COMPONENTS)}",
              file=sys.stderr)
        return 2
    config = EvalConfig(questions=questions, index_root=settings.data_dir / "eval-index", system_factory=None,
                        baselines=[], sources={**SET_SOURCES, "real": args.real_manuals}, base_settings=settings)
    result = run_ablation(config, names)
    (out / "ablation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "ablation.md").write_text(render_ablation(result), encoding="utf-8")
    print(f"ablation: {out / 'ablation.md'}")
    return 0


def one_line_summary(summary: dict) -> str:
    parts = []
    for set_name, entry in summary["sets"].items():
        if "skipped" in entry:
            parts.append(f"{set_name}: skipped ({entry['skipped']})")
            continue
        for system, s in entry["systems"].items():
            o = s["overall"]
            parts.append(f"{set_name}/{system}: hit@5 {o['hit@5']:.3f} mrr@10 {o['mrr@10']:.3f} "
                         f"passed {o['passed']:.3f}")
    return "\n".join(parts)
