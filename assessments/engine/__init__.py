"""The decision engine: does an AI system need its own agent-identity governance?

Pure Python (no Django): the wizard, the API, the CLI and the reports all call
:func:`evaluate`. The contract it implements is ../shared/decision-model.md.

    answers = validate_answers(raw)          # AnswerError names the key and allowed values
    result = evaluate(answers)               # Result; result.to_dict() is JSON-ready
"""

from .answers import (
    ACCESS_LEVELS,
    ALLOWED_VALUES,
    ANSWER_KEYS,
    ANSWER_TYPES,
    CONTRACT_KEYS,
    CONTROL_KEYS,
    AnswerError,
    format_value,
    validate_answers,
)
from .bounds import tier_ceiling, worst_completion
from .catalogue import (
    Catalogue,
    CatalogueError,
    Control,
    ControlMapping,
    Framework,
    FrameworkItem,
    ReferenceNote,
    load_catalogue,
)
from .questionnaire import (
    Option,
    Question,
    Questionnaire,
    QuestionnaireError,
    Section,
    load_questionnaire,
)
from .result import Result
from .rules import evaluate
from .terms import (
    BLOCKING_FLAGS,
    DEFAULT_REVIEW_INTERVALS,
    FLAG_DESCRIPTIONS,
    FLAG_IDS,
    FLAG_TITLES,
    SIGNAL_DESCRIPTIONS,
    SIGNAL_IDS,
    SIGNAL_TITLES,
    TIER_NAMES,
)

__all__ = [
    "ACCESS_LEVELS",
    "ALLOWED_VALUES",
    "ANSWER_KEYS",
    "ANSWER_TYPES",
    "BLOCKING_FLAGS",
    "CONTRACT_KEYS",
    "CONTROL_KEYS",
    "DEFAULT_REVIEW_INTERVALS",
    "FLAG_DESCRIPTIONS",
    "FLAG_IDS",
    "FLAG_TITLES",
    "SIGNAL_DESCRIPTIONS",
    "SIGNAL_IDS",
    "SIGNAL_TITLES",
    "TIER_NAMES",
    "AnswerError",
    "Catalogue",
    "CatalogueError",
    "Control",
    "ControlMapping",
    "Framework",
    "FrameworkItem",
    "Option",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "ReferenceNote",
    "Result",
    "Section",
    "evaluate",
    "format_value",
    "load_catalogue",
    "load_questionnaire",
    "tier_ceiling",
    "validate_answers",
    "worst_completion",
]
