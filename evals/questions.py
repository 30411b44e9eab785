"""Question sets: JSONL files validated at the edge into typed questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Kind = Literal["fact", "contact", "procedure", "multi_hop", "follow_up", "unanswerable", "phi", "injection",
               "urgent", "edition", "feedback"]


class Gold(BaseModel):
    """Where an answer lives: a section (number or heading) or PDF pages of one document."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    doc_id: str
    section: str | None = None
    pages: tuple[int, ...] = ()
    part: int = 1  # entries with the same part are alternative places for one piece of the answer

    @model_validator(mode="after")
    def _one_locator(self) -> Gold:
        if not self.section and not self.pages:
            raise ValueError("a gold entry needs a section or pages")
        return self

    @property
    def label(self) -> str:
        where = self.section if self.section else "p" + ",".join(map(str, self.pages))
        return f"{self.doc_id} {where}"


class Question(BaseModel):
    """One evaluation question with its gold answer (see evals/questions/README.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    kind: Kind
    question: str = Field(min_length=1)
    conversation: str | None = None
    turn: int | None = None
    gold: tuple[Gold, ...] = ()
    answer_terms: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()
    abstain: bool = False
    urgent: bool = False
    phi: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    region: str | None = None
    paraphrased: bool = False
    # the document an unanswerable near miss is near (a doc id): it counts with that document's questions
    near: str | None = None
    set: str = "corpus"  # filled from the file name: corpus-*.jsonl -> corpus, real-*.jsonl -> real

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if not self.abstain and not self.gold and self.kind != "feedback":
            raise ValueError("an answerable question needs gold sections or pages")
        if (self.conversation is None) != (self.turn is None):
            raise ValueError("conversation and turn go together")
        return self


class QuestionFileError(ValueError):
    """A question file that cannot be used, with the file and line."""


def set_name(path: Path) -> str:
    """The question set a file belongs to, from its name: ``real-*.jsonl`` are real handbooks."""
    return "real" if path.name.startswith("real") else "corpus"


def load_questions(paths: list[Path]) -> list[Question]:
    """Every question of the files, in file order; a bad line fails with its file and line number."""
    questions: list[Question] = []
    seen: set[str] = set()
    for path in paths:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                q = Question.model_validate({**json.loads(line), "set": set_name(path)})
            except (json.JSONDecodeError, ValidationError) as exc:
                raise QuestionFileError(f"{path}:{lineno}: {exc}") from exc
            if q.id in seen:
                raise QuestionFileError(f"{path}:{lineno}: duplicate question id {q.id!r}")
            seen.add(q.id)
            questions.append(q)
    return questions


def default_question_files(root: Path) -> list[Path]:
    return sorted((root / "evals" / "questions").glob("*.jsonl"))
