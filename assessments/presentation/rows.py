"""What a row of a long table shows, prepared in Python once per row.

A page of the review queue or of the agent list is 50 rows; rendered by the template
language, every filter, ``{% url %}``, permission check and nested ``{% if %}`` of a row
is paid 50 times, and that, not the database, was most of those pages' time. Here the
row's words, dates, links and choices are worked out in plain Python (dates formatted
as the ``date`` filter would, links filled into a pattern reversed once per page), so
the row templates only place ready values. The markup stays in the templates.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from collections.abc import Iterable
from typing import Any

from django.template.backends.utils import csrf_input
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from assessments.access import foreign, scope
from assessments.models import Assessment, System
from assessments.presentation import stored_headline, words
from assessments.templatetags.assessor import class_badge, tier_badge
from assessments.workflow import reviews


def day(value: dt.date) -> str:
    """``value|date:"j M Y"`` ("21 Sep 2026"), without the template machinery."""
    return f"{value.day} {_month(value.month)} {value.year}"


def day_month(value: dt.date) -> str:
    """``value|date:"j M"`` ("21 Sep")."""
    return f"{value.day} {_month(value.month)}"


def _month(month: int) -> str:
    # As the date filter's "M": the translated abbreviation, in the active language.
    return _month_in(get_language(), month)


@functools.cache
def _month_in(language: str | None, month: int) -> str:
    return str(MONTHS_3[month]).title()


_INT_MARK = 987_654_321_987_654_321
_SLUG_MARK = "qz-row-url-mark-{}-qz"


class RowUrl:
    """One URL pattern reversed once for a whole table, each row's link filled in.

    ``kinds`` names each argument's converter, ``"int"`` or ``"slug"``: values the
    converter accepts unchanged (a database id, a slug) are put in place of a marker
    reversed with the pattern, which is what ``reverse`` would return for them; any
    other value, and any pattern whose markers do not come out once each, is reversed
    as usual."""

    def __init__(self, name: str, *kinds: str) -> None:
        self.name = name
        self.kinds = kinds
        marks = [
            str(_INT_MARK + i) if kind == "int" else _SLUG_MARK.format(i)
            for i, kind in enumerate(kinds)
        ]
        url = reverse(name, args=marks)
        parts: list[str] = []
        for mark in marks:
            before, found, url = url.partition(mark)
            if not found or mark in url or mark in before:
                self.parts: list[str] | None = None
                return
            parts.append(before)
        parts.append(url)
        self.parts = parts

    def __call__(self, *args: Any) -> str:
        parts = self.parts
        if parts is None or not all(map(_fits, self.kinds, args)):
            return reverse(self.name, args=args)
        if len(args) == 1:
            return f"{parts[0]}{args[0]}{parts[1]}"
        return "".join(p + str(a) for p, a in zip(parts, args, strict=False)) + parts[-1]


def _fits(kind: str, value: Any) -> bool:
    if kind == "int":
        return type(value) is int and value >= 0
    return isinstance(value, str) and value != "" and _is_slug(value)


def _is_slug(value: str) -> bool:
    # The slug converter's [-a-zA-Z0-9_]+, without a regular expression per row.
    return value.isascii() and value.replace("-", "").replace("_", "").isalnum()


def escape(text: Any) -> SafeString:
    """``django.utils.html.escape`` for the plain text of a row (names, slugs, details,
    links), without its check for lazy translations on every call: the same markup."""
    return SafeString(html.escape(str(text)))


def person(user: Any) -> str:
    """A person as the rows name them: full name, else username."""
    if user is None:
        return ""
    return user.get_full_name() or user.username


# --------------------------------------------------------------------------- the queue

_STATE_WORDS = {"overdue": "Overdue", "triggered": "Triggered", "due": "Due"}


# What a queue row reads of a review, its agent and the people (the queryset's values).
_QUEUE_VALUES = (
    "pk",
    "agent_id",
    "due_on",
    "triggered_at",
    "reasons",
    "queue_state",
    "agent__name",
    "agent__slug",
    "agent__current_tier",
    "agent__current_classification",
    "agent__team_id",
    "agent__team__name",
    "agent__owner__username",
    "agent__owner__first_name",
    "agent__owner__last_name",
    "assignee__username",
    "assignee__first_name",
    "assignee__last_name",
    "lock_version",
)


def queue_rows(queue: Any, today: dt.date, request: Any) -> list[dict[str, Any]]:
    """Each review of a page of the queue as its row shows it (``queue.html#row``): the
    agent's link and names, the state and due date in words, the reasons' labels, the
    assignee, and the reassessment button for the person signed in (reviews are
    assigned with the one form above the table, for the rows ticked).

    ``queue`` is the page's reviews (``reviews.for_rows``, sorted and sliced), read as
    values, not model instances; each row is a dict (the template language finds a
    dict's keys faster than attributes). Text is escaped here, once (``escape``), and
    numbers are turned into text, so the template places each value as it is."""
    user = request.user
    agent_url = RowUrl("assessments:agent_detail", "slug")
    detail_url = RowUrl("assessments:assessment_detail", "slug", "int")
    wizard_url = RowUrl("assessments:wizard", "slug", "int")
    start_url = RowUrl("assessments:assessment_start", "slug")
    can_review = user.has_perm("assessments.review_assessment")
    can_start = user.has_perm("assessments.add_assessment")
    csrf = csrf_input(request)
    dates = _Dates()
    values = list(queue.values(*_QUEUE_VALUES))
    # Reasons name linked agents; another team's, with reading scoped, is not named.
    hidden = foreign.unreadable_named(user, [v["reasons"] for v in values])
    in_progress = {
        agent_id: (number, status)
        for agent_id, number, status in Assessment.objects.open()
        .filter(agent_id__in={v["agent_id"] for v in values})
        .values_list("agent_id", "number", "status")
    }
    out = []
    for v in values:
        slug = v["agent__slug"]
        days_left = (v["due_on"] - today).days
        late = max(-days_left, 0)
        state = v["queue_state"]
        due_iso, due_day, due_day_month = dates(v["due_on"])
        url = escape(agent_url(slug))
        number, status = in_progress.get(v["agent_id"], (None, None))
        # Teams limit what the person may do from this row (scope.py).
        team = v["agent__team_id"]
        may_decide = can_review and scope.may_decide(user, team)
        out.append(
            {
                "key": SafeString(v["pk"]),
                "version": SafeString(v["lock_version"]),
                "state": state,
                "agent_name": escape(v["agent__name"]),
                "agent_slug": escape(slug),
                "agent_url": url,
                "team_name": escape(v["agent__team__name"]),
                "owner_name": escape(_name(v, "agent__owner__")),
                "assignee_name": escape(_name(v, "assignee__")),
                "tier_html": tier_badge(v["agent__current_tier"]),
                "class_html": class_badge(v["agent__current_classification"]),
                "state_words": _STATE_WORDS[state],
                "also_triggered": state == "overdue" and v["triggered_at"] is not None,
                "due_iso": due_iso,
                "due_day": due_day,
                "due_day_month": due_day_month,
                "days_late": late,
                "late_words": f"{late} day{'s' if late != 1 else ''} late",
                "when": "today"
                if days_left == 0
                else "tomorrow"
                if days_left == 1
                else f"in {days_left} days",
                "reason_rows": [
                    (_reason_label(r.get("code")), escape(r.get("detail") or ""))
                    for r in foreign.redact_named(v["reasons"], hidden)
                ],
                "csrf_input": csrf,
                "may_assign": scope.may_decide(user, team),
                "action": _queue_action(
                    slug,
                    url,
                    bool(v["agent__current_classification"]),
                    number,
                    status,
                    may_decide,
                    can_start and scope.may_edit(user, team),
                    (detail_url, wizard_url, start_url),
                ),
            }
        )
    return out


def _name(values: dict[str, Any], prefix: str) -> str:
    """``person()`` of a user read as values (``prefix`` + username, first_name...)."""
    return _full_name(
        values[f"{prefix}first_name"], values[f"{prefix}last_name"], values[f"{prefix}username"]
    )


def _full_name(first: str | None, last: str | None, username: str | None) -> str:
    """``person()`` from its parts: full name (as ``get_full_name``), else username."""
    if username is None:
        return ""
    return f"{first} {last}".strip() or username


class _Dates:
    """A date as the rows show it (ISO, "21 Sep 2026", "21 Sep"), each date worked out
    once per page: a page of the queue has a few dozen distinct days."""

    def __init__(self) -> None:
        self.seen: dict[dt.date, tuple[str, str, str]] = {}

    def __call__(self, value: dt.date) -> tuple[str, str, str]:
        if value not in self.seen:
            self.seen[value] = (value.isoformat(), day(value), day_month(value))
        return self.seen[value]


def _reason_label(code: Any) -> SafeString:
    return escape(reviews.reason_label(str(code)))


def _queue_action(
    slug: str,
    agent_url: str,
    classified: bool,
    number: int | None,
    status: str | None,
    can_review: bool,
    can_start: bool,
    urls: tuple[RowUrl, RowUrl, RowUrl],
) -> dict[str, Any]:
    """The row's reassessment button: decide or view the version awaiting a decision
    (``number``, ``status``: the agent's assessment in progress), continue it, start one
    (a form: it posts), or view the agent. ``named``: the label is followed by the
    agent's name for screen readers."""
    detail_url, wizard_url, start_url = urls
    outline = "btn btn-sm btn-outline-primary"
    if number:
        if status == Assessment.Status.SUBMITTED:
            url, label = detail_url(slug, number), f"{'Decide' if can_review else 'View'}"
        elif can_start:
            url, label, outline = wizard_url(slug, number), "Continue", "btn btn-sm btn-primary"
        else:
            url, label = detail_url(slug, number), "View"
        return {"url": escape(url), "label": f"{label} v{number}", "css": outline}
    if can_start:
        label = "Reassess" if classified else "Assess"
        return {"url": escape(start_url(slug)), "label": label, "post": True, "named": True}
    return {
        "url": agent_url,
        "label": "View",
        "css": "btn btn-sm btn-outline-secondary",
        "named": True,
    }


# --------------------------------------------------------------------------- the agent list

_OPEN_WORDS = {"returned": "returned to the assessor", "draft": "in draft"}
_SYSTEMS_SHOWN = 3


def agent_rows(agents: Iterable[Any], today: dt.date) -> list[Any]:
    """Prepare each agent of a page of the agent list for its row (``agent_list.html``):
    its link, owner, first systems, assessment in progress (and, for an agent without an
    approved class, its draft's headline), badges and next review date. ``agents`` come
    from ``Agent.objects.for_rows()`` with the assessment and review states annotated
    (``portfolio.agents_for_list``); the page's systems and assessments in progress are
    read here in two queries."""
    agents = list(agents)
    ids = [agent.pk for agent in agents]
    systems: dict[int, list[tuple[str, str]]] = {}
    for agent_id, name, access in (
        System.objects.filter(agent_id__in=ids)
        .order_by("name", "pk")
        .values_list("agent_id", "name", "access")
    ):
        systems.setdefault(agent_id, []).append((name, access))
    in_progress: dict[int, list[Any]] = {}
    for row in (
        Assessment.objects.open()
        .filter(agent_id__in=ids)
        .order_by("agent_id", "-number")
        .values("agent_id", "number", "status", "submitted_at", "answers", "questionnaire_version")
    ):
        in_progress.setdefault(row["agent_id"], []).append(row)
    agent_url = RowUrl("assessments:agent_detail", "slug")
    assessment_url = RowUrl("assessments:assessment_detail", "slug", "int")
    dates = _Dates()
    for agent in agents:
        agent.url = agent_url(agent.slug)
        agent.owner_name = person(agent.owner)
        own = systems.get(agent.pk, [])
        agent.systems_shown = own[:_SYSTEMS_SHOWN]
        agent.systems_more = max(len(own) - _SYSTEMS_SHOWN, 0)
        opened = in_progress.get(agent.pk, [])
        agent.open_rows = [_open_row(a, assessment_url(agent.slug, a["number"])) for a in opened]
        # Only an agent without an approved class shows its draft's headline.
        agent.headline = (
            stored_headline(opened[0]["answers"], opened[0]["questionnaire_version"])
            if opened
            and not agent.current_classification
            and agent.assessment_state in ("in_draft", "returned")
            else None
        )
        agent.tier_html = tier_badge(agent.current_tier)
        agent.class_html = class_badge(agent.current_classification)
        next_review = getattr(agent, "next_review", None)
        if next_review:
            agent.next_review_iso, agent.next_review_day, _ = dates(next_review)
    return agents


def _open_row(assessment: dict[str, Any], url: str) -> dict[str, Any]:
    """An assessment in progress (its values) as its line under the agent's name."""
    row = {"url": url, "number": assessment["number"], "words": ""}
    if assessment["status"] == Assessment.Status.SUBMITTED:
        # As the date filter shows it: in the current time zone.
        at = assessment["submitted_at"]
        local = timezone.localtime(at) if at else None
        row["submitted_iso"] = local.isoformat() if local else ""
        row["submitted_day"] = day(local) if local else ""
    else:
        row["words"] = _OPEN_WORDS.get(assessment["status"], "in draft")
    return row


# --------------------------------------------------------------------------- the dashboard


def dashboard_lists(gap_agents: list[Any], expiring: list[Any], reclassified: list[Any]) -> None:
    """Prepare the dashboard's three short lists for their templates, in place: the
    agents with the most gaps, the exceptions expiring soonest (``days_left`` set) and
    the recent reclassifications (``prev_*`` set), each with its links, dates and words."""
    detail_url = RowUrl("assessments:assessment_detail", "slug", "int")
    agent_url = RowUrl("assessments:agent_detail", "slug")
    compare_url = RowUrl("assessments:assessment_compare", "slug")
    dates = _Dates()
    for row in gap_agents:
        row.url = escape(detail_url(row.slug, row.number))
        row.tier_html = tier_badge(row.tier)
        row.gap_badges = [(escape(control_id), escape(title)) for control_id, title in row.gaps]
    for exception in expiring:
        agent = exception.agent
        left = exception.days_left
        exception.url = escape(detail_url(agent.slug, exception.assessment.number))
        exception.expires_iso, exception.expires_day, _ = dates(exception.expires_on)
        exception.left_words = (
            "last day" if left == 0 else f"{left} day{'s' if left != 1 else ''} left"
        )
        exception.subject_words = words(exception.subject, "subject")
        exception.accepted_by_name = person(exception.accepted_by)
    for a in reclassified:
        slug = a.agent.slug
        a.url = escape(agent_url(slug))
        a.compare_url = escape(f"{compare_url(slug)}?from={a.prev_number}&to={a.number}")
        # Two badges, each safe markup already.
        a.before_html = SafeString(f"{class_badge(a.prev_class)} {tier_badge(a.prev_tier)}")
        a.after_html = SafeString(f"{class_badge(a.classification)} {tier_badge(a.tier)}")
        decided = timezone.localtime(a.decided_at) if a.decided_at else None
        a.decided_iso = decided.isoformat() if decided else ""
        a.decided_day = day(decided) if decided else ""
