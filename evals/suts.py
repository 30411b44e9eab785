"""The system under test: the assistant, asked the way `ask --batch` asks it (one process, model
loaded once, conversations in the data dir)."""

from __future__ import annotations

from assistant.embeddings import Embedder
from assistant.index import IndexSnapshot
from assistant.settings import Settings
from evals.metrics import Passage
from evals.questions import Question
from evals.runner import SystemFactory
from evals.systems import Outcome, passage_from_chunk


class AssistantSystem:
    """The full assistant: its answer JSON, and its retrieval ranking for the retrieval metrics."""

    name = "assistant"

    def __init__(self, settings: Settings, snapshot: IndexSnapshot, embedder: Embedder) -> None:
        from assistant.service import Assistant

        self.assistant = Assistant(settings, snapshot, embedder)

    def answer(self, question: Question, conversation_id: str | None) -> Outcome:
        answer, prepared = self.assistant.ask_with_evidence(question.question, conversation_id, question.region)
        hits = prepared.retrieval.hits if prepared.retrieval else []
        passages: list[Passage] = [passage_from_chunk(h.chunk) for h in hits]
        return Outcome(passages, answer, answer["timings_ms"])


def default_system_factory() -> SystemFactory | None:
    return AssistantSystem
