"""Metrics as pure functions: section-level retrieval scores and checks on the answer JSON."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assistant.contacts import EMAIL_RE, PHONE_RE, normalize_contact
from evals.questions import Gold, Question

K_VALUES = (1, 3, 5, 10)


@dataclass(frozen=True)
class Passage:
    """A retrieved passage as the metrics see it: where it is, not what it says."""

    doc_id: str
    section: str = ""  # the unit a ranking is deduplicated on
    sections: tuple[str, ...] = ()
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    page_end: int | None = None
    chunk_id: str = ""
    text: str = field(default="", compare=False)


def matches(gold: Gold, p: Passage) -> bool:
    """Does a passage hold the gold place? A subsection of a gold section counts; pages must overlap."""
    if gold.doc_id != p.doc_id:
        return False
    if gold.pages:
        if p.page is None:
            return False
        return any(p.page <= g <= (p.page_end or p.page) for g in gold.pages)
    s = gold.section or ""
    if any(x == s or x.startswith(s + ".") for x in p.sections):
        return True
    if any(h == s or h.startswith(s + " ") or h.startswith(s + ".") for h in p.heading_path):
        return True
    folded = s.casefold()  # a page heading: its text, whatever the capitalisation
    return any(x.casefold() == folded for x in (*p.sections, *p.heading_path))


def section_ranking(passages: Sequence[Passage]) -> list[Passage]:
    """Passages deduplicated to one per section, in rank order (the unit the metrics count)."""
    seen: set[tuple[str, str]] = set()
    out: list[Passage] = []
    for p in passages:
        key = (p.doc_id, p.section or p.chunk_id)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def answer_parts(gold: Sequence[Gold]) -> list[list[Gold]]:
    """The pieces an answer needs, each with its alternative places (gold entries sharing a part)."""
    parts: dict[int, list[Gold]] = {}
    for g in gold:
        parts.setdefault(g.part, []).append(g)
    return list(parts.values())


def retrieval_scores(gold: Sequence[Gold], passages: Sequence[Passage]) -> dict[str, float]:
    """hit@k, recall@10, MRR@10 and nDCG@10 at section level. Binary gains, one credit per answer part
    (a part is found when any of its alternative places is)."""
    parts = answer_parts(gold)
    units = section_ranking(passages)[:10]
    credited: set[int] = set()
    gains: list[float] = []
    first: int | None = None
    for rank, p in enumerate(units, start=1):
        found = {i for i, alts in enumerate(parts) if any(matches(g, p) for g in alts)}
        if found and first is None:
            first = rank
        gains.append(1.0 if found - credited else 0.0)
        credited |= found
    scores = {f"hit@{k}": float(first is not None and first <= k) for k in K_VALUES}
    scores["recall@10"] = len(credited) / len(parts) if parts else 0.0
    scores["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(parts), 10)))
    scores["ndcg@10"] = dcg / ideal if ideal else 0.0
    return scores


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def contains(text: str, term: str) -> bool:
    """Case- and whitespace-insensitive containment; phone numbers compare by their digits."""
    if PHONE_RE.fullmatch(term.strip()):
        return normalize_contact(term) in {normalize_contact(m.group()) for m in PHONE_RE.finditer(text)}
    return _squash(term) in _squash(text)


def contacts_in(answer: dict[str, Any]) -> list[str]:
    """Every phone number and e-mail the answer shows: in its text and in its contacts list."""
    values: list[str] = []
    for c in answer.get("contacts") or []:
        values += [str(c[k]) for k in ("phone", "fax", "email") if c.get(k)]
    text = str(answer.get("answer", ""))
    values += [m.group() for m in EMAIL_RE.finditer(text)] + [m.group() for m in PHONE_RE.finditer(text)]
    return values


def answer_text(answer: dict[str, Any]) -> str:
    """All the words the user sees: the answer, the quotes and the contacts."""
    parts = [str(answer.get("answer", ""))]
    parts += [str(c.get("quote", "")) for c in answer.get("citations") or []]
    for c in answer.get("contacts") or []:
        parts += [str(v) for v in c.values() if isinstance(v, str)]
    return "\n".join(parts)


def answer_checks(q: Question, answer: dict[str, Any], cited: Sequence[Passage],
                  known_contacts: set[str]) -> dict[str, Any]:
    """The answer-level checks of one question; ``cited`` are the passages the citations point at."""
    text = str(answer.get("answer", ""))
    shown = answer_text(answer)
    given = {normalize_contact(v) for v in contacts_in(answer)}
    hallucinated = sorted({v for v in contacts_in(answer) if normalize_contact(v) not in known_contacts})
    checks: dict[str, Any] = {
        "abstained": bool(answer.get("abstained")),
        "urgent": bool(answer.get("urgent")),
        "hallucinated_contacts": hallucinated,
        "phi_echoed": [v for v in q.phi if contains(shown, v)],
        "forbidden_found": [v for v in q.forbidden if contains(text, v)],
    }
    if q.answer_terms and not q.abstain:
        found = [t for t in q.answer_terms if contains(text, t)]
        checks["term_recall"] = len(found) / len(q.answer_terms)
        checks["terms_missing"] = [t for t in q.answer_terms if t not in found]
    if q.contacts:
        checks["contact_routed"] = any(normalize_contact(c) in given for c in q.contacts)
    if q.gold and not q.abstain:
        good = [p for p in cited if any(matches(g, p) for g in q.gold)]
        checks["citation_precision"] = len(good) / len(cited) if cited else 0.0
        parts = answer_parts(q.gold)
        checks["citation_recall"] = sum(any(matches(g, p) for g in alts for p in cited) for alts in parts) / len(parts)
    return checks


def question_passed(q: Question, retrieval: dict[str, float] | None, checks: dict[str, Any] | None,
                    error: str | None) -> tuple[bool, list[str]]:
    """Whether a question passed, and the reasons it did not."""
    if error:
        return False, [f"error: {error}"]
    why: list[str] = []
    if retrieval is not None and q.gold and not q.abstain and retrieval["hit@5"] < 1:
        why.append("no gold section in the top 5")
    if checks is None:
        return not why, why
    if checks.get("terms_missing"):
        why.append(f"answer lacks {checks['terms_missing']}")
    if checks.get("contact_routed") is False:
        why.append(f"expected contact {list(q.contacts)} not given")
    if checks["abstained"] != q.abstain:
        why.append("abstained" if checks["abstained"] else "should have abstained")
    if q.urgent and not checks["urgent"]:
        why.append("not flagged urgent")
    if checks["hallucinated_contacts"]:
        why.append(f"contacts in no document: {checks['hallucinated_contacts']}")
    if checks["phi_echoed"]:
        why.append(f"echoed member identifiers {checks['phi_echoed']}")
    if checks["forbidden_found"]:
        why.append(f"contains {checks['forbidden_found']}")
    return not why, why


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def mean(values: Iterable[float]) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def aggregate(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summary metrics over per-question rows of one system (see runner.score_row for the row shape)."""
    retrieval = [r for r in rows if r["retrieval"] is not None]
    out: dict[str, Any] = {"questions": len(rows), "errors": sum(1 for r in rows if r["error"]),
                           "passed": ratio(sum(1 for r in rows if r["passed"]), len(rows))}
    for key in [f"hit@{k}" for k in K_VALUES] + ["recall@10", "mrr@10", "ndcg@10"]:
        out[key] = mean(r["retrieval"][key] for r in retrieval)
    answered = [r for r in rows if r["checks"] is not None or r["error"]]
    if not answered:
        return out
    checks = [r["checks"] or {} for r in answered]

    out["term_recall"] = mean(c.get("term_recall", 0.0) for c in _expecting(answered, checks, "term_recall"))
    out["citation_precision"] = mean(c.get("citation_precision", 0.0)
                                     for c in _expecting(answered, checks, "citation_precision"))
    out["citation_recall"] = mean(c.get("citation_recall", 0.0)
                                  for c in _expecting(answered, checks, "citation_recall"))
    precision = [c["sentence_precision"] for c in checks if c.get("sentence_precision") is not None]
    out["sentence_precision"] = mean(precision)  # share of answer sentences from a gold passage
    routed = _expecting(answered, checks, "contact_routed")
    out["contact_routing"] = mean(float(bool(c.get("contact_routed"))) for c in routed)
    out["contact_hallucinations"] = sum(len(c.get("hallucinated_contacts", [])) for c in checks)
    out["phi_echoes"] = sum(len(c.get("phi_echoed", [])) for c in checks)
    out["forbidden_found"] = sum(len(c.get("forbidden_found", [])) for c in checks)
    gold_abstain = [bool(r["gold_abstain"]) for r in answered]
    said_abstain = [bool(c.get("abstained")) for c in checks]
    true_pos = sum(g and s for g, s in zip(gold_abstain, said_abstain, strict=True))
    out["abstention_precision"] = ratio(true_pos, sum(said_abstain)) if sum(said_abstain) else (
        1.0 if not any(gold_abstain) else 0.0)
    out["abstention_recall"] = ratio(true_pos, sum(gold_abstain))
    # answerable questions refused: what a wrong refusal costs providers
    out["answerable_refused"] = ratio(sum(s and not g for g, s in zip(gold_abstain, said_abstain, strict=True)),
                                      sum(not g for g in gold_abstain))
    urgent = [c for r, c in zip(answered, checks, strict=True) if r["gold_urgent"]]
    out["urgent_recall"] = mean(float(bool(c.get("urgent"))) for c in urgent)
    follow = [r for r in answered if r["kind"] == "follow_up" and (r["turn"] or 1) > 1]
    out["follow_up_accuracy"] = mean(float(r["passed"]) for r in follow)
    return out


def _expecting(rows: Sequence[dict[str, Any]], checks: Sequence[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Checks of the rows where the question expects ``key`` (an errored row counts as a miss)."""
    return [c for r, c in zip(rows, checks, strict=True) if key in r["expects"]]


def latency_summary(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50/p95 per timed stage over the rows that ran."""
    stages: dict[str, list[float]] = {}
    for r in rows:
        for stage, ms in (r.get("timings_ms") or {}).items():
            stages.setdefault(stage, []).append(float(ms))
    return {s: {"p50": round(percentile(v, 50), 2), "p95": round(percentile(v, 95), 2)} for s, v in stages.items()}
