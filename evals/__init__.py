"""Evaluation: question sets, metrics, baselines and the report that says whether the assistant can be trusted."""
