"""`provider-assistant eval --ablate`: the assistant with each component switched in turn (off when it is on by
default, on when the defaults leave it off), on every question set and every document of it, beside the assistant
with the default components."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from assistant.components import COMPONENTS
from assistant.embeddings import Embedder, SentenceTransformerEmbedder
from assistant.index import IndexSnapshot
from evals.report import fmt
from evals.runner import EvalConfig, build_index, known_contacts, run_system, set_settings, summarize
from evals.suts import AssistantSystem

log = logging.getLogger(__name__)

# what the table shows for each variant (its change against everything on)
METRICS = ("hit@1", "hit@5", "mrr@10", "passed", "term_recall", "sentence_precision", "contact_routing",
           "abstention_precision",
           "abstention_recall", "answerable_refused", "follow_up_accuracy")
# for these, lower is better
LOWER_IS_BETTER = frozenset({"answerable_refused"})
FULL = "(defaults)"
ON = " (switched on)"  # the label suffix of a component the defaults leave off


def run_ablation(config: EvalConfig, components: Sequence[str] = tuple(COMPONENTS),
                 embedder: Embedder | None = None) -> dict[str, Any]:
    """Per set: the summary with the default components and with each of ``components`` switched (same index): a
    component on by default is switched off, one the defaults leave off (``Settings.disabled``) is switched on."""
    out: dict[str, Any] = {"components": {c: COMPONENTS[c] for c in components}, "sets": {}}
    for set_name in ("corpus", "real"):
        questions = [q for q in config.questions if q.set == set_name]
        source = config.sources.get(set_name)
        if not questions or source is None or not source.exists():
            continue
        settings = set_settings(config, set_name)
        embedder = embedder or SentenceTransformerEmbedder.from_settings(settings)
        build_index(settings, source, embedder)
        snapshot = IndexSnapshot.open(settings)
        contacts = known_contacts(snapshot)
        variants: dict[str, Any] = {}
        for name in (FULL, *components):
            default_off = name in settings.disabled
            disabled = sorted(set(settings.disabled) - {name} if default_off
                              else set(settings.disabled) | ({name} if name != FULL else set()))
            name = f"{name}{ON}" if default_off else name
            system = AssistantSystem(settings.model_copy(update={"disabled": disabled}), snapshot, embedder)
            log.info("ablation, set %s: %s", set_name, name)
            rows = run_system(system, questions, snapshot, contacts, keep_answers=False)
            variants[name] = {**summarize(rows), "failed": sorted(r["id"] for r in rows if not r["passed"])}
        out["sets"][set_name] = variants
    return out


def _scopes(variants: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The whole set, then each document with gold questions (a real set holds several manuals)."""
    docs = sorted(variants[FULL]["by_document"])
    return [("all questions", None), *((d, d) for d in docs if len(docs) > 1)]


def render_ablation(result: dict[str, Any]) -> str:
    """Markdown: per set and document, each component's change when switched (off: negative means it helps)."""
    lines = ["# Ablation: each component switched in turn", "",
             "A cell is the metric with the component switched minus with the defaults. A component on by default is "
             "switched off: a negative number means it helps (for answerable_refused, a positive one). A component "
             f"the defaults leave off is switched on (its row ends in \"{ON.strip()}\"): there a positive number means "
             "it helps. The verdict says what the component does. A document's rows hold the questions with gold in "
             "it and the near misses written for it (`near`).", ""]
    for set_name, variants in result["sets"].items():
        for label, doc in _scopes(variants):
            def pick(name: str, doc: str | None = doc, variants: dict[str, Any] = variants) -> dict[str, Any]:
                return variants[name]["overall"] if doc is None else variants[name]["by_document"].get(doc, {})

            full = pick(FULL)
            lines += [f"## {set_name}: {label} ({full.get('questions', 0)} questions)", "",
                      "| component switched | " + " | ".join(METRICS) + " | verdict |",
                      "| --- |" + " --- |" * (len(METRICS) + 1),
                      f"| {FULL} | " + " | ".join(fmt(full.get(m)) for m in METRICS) + " | |"]
            for name in variants:
                if name == FULL:
                    continue
                row = pick(name)
                deltas = [_delta(row.get(m), full.get(m)) for m in METRICS]
                verdict = _verdict([None if d is None else -d for d in deltas] if name.endswith(ON) else deltas)
                lines.append(f"| {name} | " + " | ".join(_signed(d) for d in deltas) + f" | {verdict} |")
            lines.append("")
    lines += ["## Components", ""] + [f"- `{c}`: {what}" for c, what in result["components"].items()]
    return "\n".join(lines) + "\n"


def _delta(value: Any, base: Any) -> float | None:
    if value is None or base is None:
        return None
    return round(float(value) - float(base), 4)


def _signed(d: float | None) -> str:
    return "–" if d is None else ("0" if d == 0 else f"{d:+.3f}")


def _verdict(deltas: Sequence[float | None]) -> str:
    """'helps' when switching it off loses on some metric and gains on none, 'hurts' the reverse, else 'mixed' or
    'no effect' (``deltas``: off minus on)."""
    worse = better = False
    for metric, d in zip(METRICS, deltas, strict=True):
        if not d:
            continue
        lost = d > 0 if metric in LOWER_IS_BETTER else d < 0
        worse |= lost
        better |= not lost
    return "mixed" if worse and better else "helps" if worse else "hurts" if better else "no effect"
