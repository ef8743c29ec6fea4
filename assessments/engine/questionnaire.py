"""The questionnaire the wizard renders: sections, questions, options and follow-ups.

``show_if`` maps question ids to the answers that make a follow-up appear (all must
hold). A question that is not visible is not asked, and a required question is
required only while it is visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .answers import ANSWER_TYPES

BUNDLED_QUESTIONNAIRE = Path(__file__).resolve().parent.parent / "catalog" / "questionnaire-v1.yaml"
QUESTION_TYPES = ("choice", "boolean", "systems", "agents", "multichoice")


class QuestionnaireError(ValueError):
    """The questionnaire data is inconsistent."""


@dataclass(frozen=True, slots=True)
class Option:
    value: Any
    label: str
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    type: str
    prompt: str
    help: str
    required: bool = True
    options: tuple[Option, ...] = ()
    show_if: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    source: str = ""
    # A multichoice question may offer an explicit "none of these" answer (the empty list),
    # so that "nothing" is an answer given rather than a question left alone.
    none_option: str = ""

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(o.value for o in self.options)

    def shown(self, answers: Mapping[str, Any]) -> bool:
        for key, allowed in self.show_if:
            value = answers.get(key)
            # ``True in (1,)`` holds in Python: compare booleans by identity.
            if value is None or not any(type(value) is type(a) and value == a for a in allowed):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    intro: str
    questions: tuple[Question, ...]


@dataclass(frozen=True, slots=True)
class Questionnaire:
    version: int
    title: str
    sections: tuple[Section, ...]
    _by_id: Mapping[str, Question] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_id: dict[str, Question] = {}
        for section in self.sections:
            for q in section.questions:
                if q.id in by_id:
                    raise QuestionnaireError(f"Question {q.id!r} appears twice.")
                by_id[q.id] = q
        for q in by_id.values():
            for key, allowed in q.show_if:
                target = by_id.get(key)
                if target is None:
                    raise QuestionnaireError(
                        f"Question {q.id!r} shows only if {key!r}, which is not a question."
                    )
                bad = [v for v in allowed if v not in target.values]
                if bad:
                    raise QuestionnaireError(
                        f"Question {q.id!r} shows only if {key!r} is {bad!r}, which is not one "
                        f"of its values."
                    )
        object.__setattr__(self, "_by_id", by_id)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(self._by_id.values())

    def question(self, question_id: str) -> Question:
        return self._by_id[question_id]

    def section_of(self, question_id: str) -> Section:
        return next(s for s in self.sections if any(q.id == question_id for q in s.questions))

    def is_visible(self, question_id: str, answers: Mapping[str, Any]) -> bool:
        return self._by_id[question_id].shown(answers)

    def visible_questions(self, answers: Mapping[str, Any]) -> list[Question]:
        return [q for q in self._by_id.values() if q.shown(answers)]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Questionnaire:
        try:
            return cls(
                version=int(data["version"]),
                title=str(data["title"]),
                sections=tuple(_section(s) for s in data["sections"]),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise QuestionnaireError(f"Questionnaire data is malformed: {exc!r}") from exc


def _section(data: Mapping[str, Any]) -> Section:
    return Section(
        id=str(data["id"]),
        title=str(data["title"]),
        intro=str(data.get("intro") or ""),
        questions=tuple(_question(q) for q in data["questions"]),
    )


def _question(data: Mapping[str, Any]) -> Question:
    qid = str(data["id"])
    qtype = str(data["type"])
    if qtype not in QUESTION_TYPES:
        raise QuestionnaireError(f"Question {qid!r} has unknown type {qtype!r}.")
    if qid in ANSWER_TYPES and ANSWER_TYPES[qid] != qtype:
        raise QuestionnaireError(
            f"Question {qid!r} is a {qtype} question but the engine reads a {ANSWER_TYPES[qid]}."
        )
    if not data.get("help"):
        raise QuestionnaireError(f"Question {qid!r} has no help text.")
    show_if = data.get("show_if") or {}
    none_option = str(data.get("none_option") or "")
    if none_option and qtype != "multichoice":
        raise QuestionnaireError(f"Question {qid!r} is not multichoice but has a none_option.")
    return Question(
        id=qid,
        type=qtype,
        prompt=str(data["prompt"]),
        help=str(data["help"]),
        required=bool(data.get("required", True)),
        options=tuple(
            Option(
                value=o["value"],
                label=str(o["label"]),
                explanation=str(o.get("explanation") or ""),
            )
            for o in data.get("options") or ()
        ),
        show_if=tuple((str(k), tuple(v)) for k, v in show_if.items()),
        source=str(data.get("source") or ""),
        none_option=none_option,
    )


def load_questionnaire(path: str | Path | None = None) -> Questionnaire:
    """Read a questionnaire YAML file; without a path, the bundled one (read once)."""
    if path is None:
        return _bundled_questionnaire()
    return _read(Path(path))


@cache
def _bundled_questionnaire() -> Questionnaire:
    return _read(BUNDLED_QUESTIONNAIRE)


def _read(path: Path) -> Questionnaire:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, Mapping):
        raise QuestionnaireError(f"{path} does not hold a questionnaire mapping.")
    return Questionnaire.from_dict(data)
