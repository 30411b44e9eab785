"""The human-readable side of an evaluation: report.md (failures first) and matplotlib charts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

HEADLINE = ("hit@1", "hit@3", "hit@5", "hit@10", "recall@10", "mrr@10", "ndcg@10", "term_recall",
            "citation_precision", "citation_recall", "sentence_precision", "contact_routing",
            "contact_hallucinations", "phi_echoes", "forbidden_found", "abstention_precision", "abstention_recall",
            "answerable_refused", "urgent_recall", "follow_up_accuracy", "passed", "errors")


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def failed_section(rows: Sequence[dict[str, Any]]) -> list[str]:
    failed = [r for r in rows if not r["passed"]]
    lines = [f"## Failed questions ({len(failed)} of {len(rows)})", ""]
    for r in failed:
        answer = (r.get("answer") or {}).get("answer", "") if r.get("answer") else ""
        lines += [
            f"### {r['id']} ({r['kind']})",
            f"- question: {_cell(r['question'])}",
            f"- why: {'; '.join(r['why'])}",
            f"- expected: gold {r['gold'] or 'none (abstain)'}; terms {r['answer_terms']}; "
            f"contacts {r['expected_contacts']}",
            f"- retrieved (top 5): {r['retrieved'][:5]}",
        ]
        if answer:
            lines.append(f"- answer: {_cell(answer[:600])}")
        lines.append("")
    return lines


def render_report(summary: dict[str, Any], rows: Sequence[dict[str, Any]], charts: Sequence[str]) -> str:
    lines = ["# Evaluation report", "", f"Created {summary['created']}.", ""]
    for set_name, entry in summary["sets"].items():
        lines += [f"# Set: {set_name}", ""]
        if "skipped" in entry:
            lines += [f"Skipped: {entry['skipped']}.", ""]
            continue
        sut = entry["system_under_test"]
        systems = list(entry["systems"])
        set_rows = [r for r in rows if r["set"] == set_name and r["system"] == sut]
        lines += [f"{entry['questions']} questions; index {entry['index']}; system under test: **{sut}**.", ""]
        lines += failed_section(set_rows)
        lines += ["## Side by side", ""]
        lines += table(["metric", *systems], [[m, *(entry["systems"][s]["overall"].get(m) for s in systems)]
                                             for m in HEADLINE])
        lines += ["", "## hit@5 by question kind", ""]
        kinds = list(entry["systems"][sut]["by_kind"])
        lines += table(["kind", "n", *systems],
                       [[k, entry["systems"][sut]["by_kind"][k]["questions"],
                         *(entry["systems"][s]["by_kind"].get(k, {}).get("hit@5") for s in systems)] for k in kinds])
        lines += ["", f"## {sut} by question kind", ""]
        cols = ["hit@5", "mrr@10", "term_recall", "contact_routing", "abstention_recall", "passed"]
        lines += table(["kind", "n", *cols], [[k, v["questions"], *(v.get(c) for c in cols)]
                                              for k, v in entry["systems"][sut]["by_kind"].items()])
        lines += ["", "## By manual section / document (hit@5)", ""]
        docs = list(entry["systems"][sut]["by_document"])
        lines += table(["document", "n", *systems],
                       [[d, entry["systems"][sut]["by_document"][d]["questions"],
                         *(entry["systems"][s]["by_document"].get(d, {}).get("hit@5") for s in systems)]
                        for d in docs])
        lines += ["", "## Paraphrased questions (wording not in the gold passage)", ""]
        lines += table(["metric", *systems], [[m, *(entry["systems"][s]["paraphrased"].get(m) for s in systems)]
                                             for m in ("questions", "hit@1", "hit@5", "mrr@10")])
        lines += ["", "## Latency (ms)", ""]
        lines += table(["system", "stage", "p50", "p95"],
                       [[s, stage, v["p50"], v["p95"]] for s in systems
                        for stage, v in entry["systems"][s]["latency_ms"].items()])
        lines.append("")
    if charts:
        lines += ["# Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    return "\n".join(lines)


def _grouped_bars(ax: Any, labels: Sequence[str], series: dict[str, list[float]], title: str) -> None:
    """One group of bars per label, one bar per system."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width, label=name)
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def render_charts(summary: dict[str, Any], rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """PNG charts per set: hit@5 by kind for every system, headline metrics, latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        written.append(name)

    for set_name, entry in summary["sets"].items():
        if "skipped" in entry:
            continue
        systems = entry["systems"]
        kinds = list(systems[entry["system_under_test"]]["by_kind"])
        fig, ax = plt.subplots(figsize=(max(6, len(kinds) * 1.1), 4))
        _grouped_bars(ax, kinds, {s: [v["by_kind"].get(k, {}).get("hit@5") or 0 for k in kinds]
                                  for s, v in systems.items()}, f"{set_name}: section hit@5 by question kind")
        save(fig, f"{set_name}-hit5-by-kind.png")

        metrics = ["hit@1", "hit@5", "mrr@10", "ndcg@10", "term_recall", "contact_routing"]
        fig, ax = plt.subplots(figsize=(8, 4))
        _grouped_bars(ax, metrics, {s: [v["overall"].get(m) or 0 for m in metrics] for s, v in systems.items()},
                      f"{set_name}: headline metrics")
        save(fig, f"{set_name}-headline.png")

        fig, ax = plt.subplots(figsize=(7, 4))
        for s in systems:
            totals = [r["timings_ms"].get("total", 0) for r in rows
                      if r["set"] == set_name and r["system"] == s and r["timings_ms"]]
            if totals:
                ax.hist(totals, bins=30, alpha=0.5, label=s)
        ax.set_xlabel("ms per question (total)")
        ax.set_ylabel("questions")
        ax.set_title(f"{set_name}: latency distribution")
        ax.legend(fontsize=8)
        save(fig, f"{set_name}-latency.png")
    return written
