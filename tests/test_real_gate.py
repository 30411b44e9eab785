"""The CI gate on the real manuals: every real question set (each manual's questions and near misses) through
the assistant, against the thresholds in evals/thresholds.yaml set from measured figures (skipped where
../shared/real-manuals is absent; a manual the folder lacks is not checked)."""

from __future__ import annotations

import pytest
from conftest import REAL_MANUALS

from evals.gate import check_gate, load_thresholds
from evals.questions import default_question_files, load_questions
from evals.runner import ROOT, EvalConfig, run_eval
from evals.suts import default_system_factory

pytestmark = pytest.mark.skipif(not REAL_MANUALS.is_dir(), reason="../shared/real-manuals is absent")


def test_ci_gate_passes_on_every_real_manual(tmp_path_factory, real_embedder):
    questions = [q for q in load_questions(default_question_files(ROOT)) if q.set == "real"]
    config = EvalConfig(questions=questions, index_root=tmp_path_factory.mktemp("real-gate"),
                        system_factory=default_system_factory(), baselines=(), sources={"real": REAL_MANUALS})
    summary, rows = run_eval(config, real_embedder)
    assert len(rows) == len(questions)
    thresholds = load_thresholds()
    assert thresholds["real"].get("documents"), "the gate names each real manual"
    failures = check_gate(summary, {"real": thresholds["real"]})
    assert failures == [], "\n".join(failures)
