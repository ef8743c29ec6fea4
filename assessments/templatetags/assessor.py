"""Small presentation helpers for templates."""

from __future__ import annotations

from typing import Any

from django import template

from assessments import presentation
from assessments.presentation import one_line as _one_line

register = template.Library()


@register.filter
def verb_label(verb: str) -> str:
    """A readable phrase for an audit verb ("assessment.approve" -> "approved an assessment")."""
    return presentation.words(verb, "verb")


@register.filter
def words(value: Any, kind: str = "value") -> str:
    """Any code in words: ``{{ flag|words:"flag" }}``, ``{{ text|words:"sentence" }}``."""
    return presentation.words(value, kind)


@register.filter
def answer_words(value: Any, key: str) -> str:
    """The value of answer ``key`` in the questionnaire's words."""
    return presentation.words(value, "answer", key)


@register.filter
def change_rows(changes: Any) -> list[tuple[str, str]]:
    """An audit event's changes as (what, how) rows in words, never Python repr."""
    return presentation.change_rows(changes)


@register.filter
def one_line(value: Any) -> str:
    """A value as one line, without control characters (for e-mail subjects and bodies)."""
    return _one_line(value)
