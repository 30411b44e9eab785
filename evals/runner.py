"""Runs question sets through the system under test and the baselines, and scores every answer."""

from __future__ import annotations

import datetime as dt
import json
import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.contacts import find_contacts, normalize_contact
from assistant.embeddings import Embedder, SentenceTransformerEmbedder
from assistant.index import IndexSnapshot
from assistant.sentences import quotable_sentences
from assistant.settings import Settings
from evals.metrics import (
    Passage,
    aggregate,
    answer_checks,
    latency_summary,
    matches,
    question_passed,
    retrieval_scores,
)
from evals.questions import Question
from evals.systems import Outcome, System, open_baselines, passage_from_chunk

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ("dense", "dense_first", "bm25", "naive_langchain")
SET_SOURCES = {"corpus": ROOT / "corpus", "real": ROOT.parent / "shared" / "real-manuals"}

# Builds the system under test over one set's index; None means "no system beyond the baselines".
SystemFactory = Callable[[Settings, IndexSnapshot, Embedder], System]


@dataclass
class EvalConfig:
    """What to run: question files, where the indexes live, which systems, where the real handbooks are."""

    questions: list[Question]
    index_root: Path
    system_factory: SystemFactory | None
    baselines: Sequence[str] = BASELINES
    sources: dict[str, Path] = field(default_factory=lambda: dict(SET_SOURCES))
    base_settings: Settings | None = None


def set_settings(config: EvalConfig, set_name: str) -> Settings:
    base = config.base_settings or Settings()
    return base.model_copy(update={"data_dir": config.index_root / set_name})


def build_index(settings: Settings, source: Path, embedder: Embedder) -> dict[str, Any]:
    """Ingest a set's documents into its own index (incremental: unchanged files are skipped)."""
    from ingest.pipeline import Ingestor

    summary = Ingestor(settings, embedder, progress=False).run([source])
    if not summary.ok:
        raise RuntimeError(f"ingesting {source} for the evaluation failed: {summary.to_text()}")
    info = summary.to_dict()
    return {"documents": info["seen"], "chunks": info["chunks_total"], "ingest_seconds": round(summary.seconds, 1)}


def known_contacts(snapshot: IndexSnapshot) -> set[str]:
    """Every phone number and e-mail that some ingested document contains, as comparison keys."""
    found = {normalize_contact(m.value) for c in snapshot.chunks.values() for m in find_contacts(c.text)}
    return found | {normalize_contact(c.value) for c in snapshot.contacts}


def ordered(questions: Sequence[Question]) -> list[Question]:
    """Questions in file order, except that a conversation's turns run together and in turn order."""
    out: list[Question] = []
    done: set[str] = set()
    for q in questions:
        if q.conversation is None:
            out.append(q)
        elif q.conversation not in done:
            done.add(q.conversation)
            out += sorted((x for x in questions if x.conversation == q.conversation), key=lambda x: x.turn or 0)
    return out


def expectations(q: Question) -> list[str]:
    """The answer checks a question takes part in (an errored answer counts as failing each)."""
    expects = []
    if q.answer_terms and not q.abstain:
        expects.append("term_recall")
    if q.contacts:
        expects.append("contact_routed")
    if q.gold and not q.abstain:
        expects += ["citation_precision", "citation_recall"]
    return expects


def score_row(q: Question, system: str, outcome: Outcome | None, error: str | None, snapshot: IndexSnapshot,
              contacts: set[str], keep_answer: bool) -> dict[str, Any]:
    """One question's row: the gold, what came back and which checks passed."""
    retrieval = None
    checks = None
    if outcome is not None:
        retrieval = retrieval_scores(q.gold, outcome.passages) if q.gold else None
        if outcome.answer is not None:
            cited = [passage_from_chunk(snapshot.chunks[c["chunk_id"]])
                     for c in outcome.answer.get("citations") or [] if c.get("chunk_id") in snapshot.chunks]
            checks = answer_checks(q, outcome.answer, cited, contacts)
            if q.gold and not q.abstain and not checks["abstained"]:
                checks["sentence_precision"] = sentence_precision(q, outcome, snapshot)
    elif q.gold and not q.abstain:
        retrieval = retrieval_scores(q.gold, [])
    passed, why = question_passed(q, retrieval, checks, error)
    return {
        "id": q.id, "set": q.set, "kind": q.kind, "system": system, "question": q.question,
        "conversation": q.conversation, "turn": q.turn, "paraphrased": q.paraphrased,
        "gold": [g.label for g in q.gold], "document": q.gold[0].doc_id if q.gold else q.near,
        "answer_terms": list(q.answer_terms), "expected_contacts": list(q.contacts),
        "expects": expectations(q), "gold_abstain": q.abstain, "gold_urgent": q.urgent,
        "retrieved": [f"{p.doc_id} {p.section}".strip() for p in (outcome.passages[:10] if outcome else [])],
        "retrieval": retrieval, "checks": checks, "passed": passed, "why": why, "error": error,
        "answer": outcome.answer if outcome and keep_answer else None,
        "timings_ms": (outcome.timings_ms if outcome else {}),
    }


def sentence_precision(q: Question, outcome: Outcome, snapshot: IndexSnapshot) -> float | None:
    """The share of the answer's sentences taken from a gold passage: the quoted sentences of each citation, or
    for a baseline the sentences of the passages it pasted. None when the answer quotes nothing."""
    answer = outcome.answer or {}
    counts: list[tuple[Passage, int]] = []
    for c in answer.get("citations") or []:
        if c.get("chunk_id") in snapshot.chunks and c.get("quote"):
            counts.append((passage_from_chunk(snapshot.chunks[c["chunk_id"]]), len(str(c["quote"]).split(" … "))))
    for p in outcome.passages[: int(answer.get("pasted") or 0)]:
        counts.append((p, max(1, len(quotable_sentences(p.text)))))
    total = sum(n for _, n in counts)
    if not total:
        return None
    return sum(n for p, n in counts if any(matches(g, p) for g in q.gold)) / total


def run_system(system: System, questions: Sequence[Question], snapshot: IndexSnapshot, contacts: set[str],
               *, keep_answers: bool) -> list[dict[str, Any]]:
    """Every question through one system; an exception is a failed question, never a skipped one."""
    rows = []
    conversations: dict[str, str | None] = {}
    for q in ordered(questions):
        conv_id = conversations.get(q.conversation) if q.conversation else None
        outcome: Outcome | None = None
        error = None
        try:
            outcome = system.answer(q, conv_id)
            if q.conversation and outcome.answer and outcome.answer.get("conversation_id"):
                conversations[q.conversation] = str(outcome.answer["conversation_id"])
        except Exception as exc:  # the system under test failing is a result to report, not a crash
            error = f"{type(exc).__name__}: {exc}"
            log.warning("question %s failed on %s:\n%s", q.id, system.name, traceback.format_exc())
        rows.append(score_row(q, system.name, outcome, error, snapshot, contacts, keep_answers))
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    kinds = sorted({r["kind"] for r in rows})
    docs = sorted({r["document"] for r in rows if r.get("document")})
    return {
        "overall": aggregate(rows),
        "by_kind": {k: aggregate([r for r in rows if r["kind"] == k]) for k in kinds},
        "by_document": {d: aggregate([r for r in rows if r.get("document") == d]) for d in docs},
        "paraphrased": aggregate([r for r in rows if r["paraphrased"]]),
        "latency_ms": latency_summary(rows),
    }


def run_eval(config: EvalConfig, embedder: Embedder | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every set with questions: its index, the system under test, then the baselines."""
    summary: dict[str, Any] = {"created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "sets": {}}
    all_rows: list[dict[str, Any]] = []
    for set_name in ("corpus", "real"):
        questions = [q for q in config.questions if q.set == set_name]
        if not questions:
            continue
        source = config.sources.get(set_name)
        if source is None or not source.exists():
            summary["sets"][set_name] = {"questions": len(questions), "skipped": f"documents not found at {source}"}
            continue
        settings = set_settings(config, set_name)
        embedder = embedder or SentenceTransformerEmbedder.from_settings(settings)
        index_info = build_index(settings, source, embedder)
        snapshot = IndexSnapshot.open(settings)
        contacts = known_contacts(snapshot)
        systems: list[System] = []
        if config.system_factory is not None:
            systems.append(config.system_factory(settings, snapshot, embedder))
        systems += open_baselines(snapshot, embedder, config.baselines, config.index_root / f"{set_name}-naive")
        entry: dict[str, Any] = {"questions": len(questions), "index": index_info,
                                 "system_under_test": systems[0].name if systems else None, "systems": {}}
        for n, system in enumerate(systems):
            log.info("set %s: %d questions through %s", set_name, len(questions), system.name)
            rows = run_system(system, questions, snapshot, contacts, keep_answers=(n == 0))
            entry["systems"][system.name] = summarize(rows)
            all_rows += rows
        summary["sets"][set_name] = entry
    return summary, all_rows


def write_rows(rows: Sequence[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
