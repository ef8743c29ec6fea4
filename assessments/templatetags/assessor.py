"""Small presentation helpers for templates."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from assessments import presentation
from assessments.engine.terms import NO_CLASSIFICATION_TITLE
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
def actor_name(event: Any) -> str:
    """Who did an audited action, by name (``presentation.actor_name``)."""
    return presentation.actor_name(event)


@register.filter
def one_line(value: Any) -> str:
    """A value as one line, without control characters (for e-mail subjects and bodies)."""
    return _one_line(value)


TIER_WORDS = {4: "Critical", 3: "High", 2: "Elevated", 1: "Baseline"}


@register.simple_tag
def tier_badge(tier: Any) -> str:
    """A governance tier as a badge (the one definition: includes/tier_badge.html calls
    it). A tag rather than an include, so a long table renders it cheaply; the four
    tiers' badges are made once."""
    badge = _TIER_BADGES.get(tier) if type(tier) is int else None
    return badge if badge is not None else _tier_badge(tier)


def _tier_badge(tier: Any) -> str:
    if not tier:
        return mark_safe('<span class="text-body-tertiary">—</span>')  # noqa: S308 (constant)
    return format_html(
        '<span class="badge tier-badge tier-{}" title="Governance tier {}">{} · {}</span>',
        tier,
        tier,
        tier,
        TIER_WORDS.get(tier, "Baseline"),
    )


_TIER_BADGES = {tier: _tier_badge(tier) for tier in TIER_WORDS}


CLASS_BADGES = {
    "agent_identity": (
        '<span class="badge badge-agent"><i class="bi bi-robot me-1" aria-hidden="true"></i>'
        "Agent identity</span>"
    ),
    "machine_identity": (
        '<span class="badge badge-machine"><i class="bi bi-gear me-1" aria-hidden="true"></i>'
        "Machine identity</span>"
    ),
}


@register.simple_tag
def class_badge(classification: Any) -> str:
    """A classification as a badge (the one definition: includes/class_badge.html)."""
    if classification in CLASS_BADGES:
        return mark_safe(CLASS_BADGES[classification])  # noqa: S308 (constant markup chosen by key)
    return format_html(
        '<span class="badge text-bg-light border">{}</span>', NO_CLASSIFICATION_TITLE
    )


@register.simple_tag
def unassessed_label() -> str:
    """What an agent with no approved assessment, so no class, is called everywhere."""
    return NO_CLASSIFICATION_TITLE
