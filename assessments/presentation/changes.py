"""An agent's or assessment's history in words: changes, dates and who made them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assessments.engine.terms import (
    ANSWER_TITLES,
)

from .vocabulary import _question, words


def _change_value(key: str, value: Any) -> str:
    if isinstance(value, Mapping) and value and set(value) <= {"old", "new"}:
        return f"{_change_value(key, value.get('old'))} → {_change_value(key, value.get('new'))}"
    if key in ANSWER_TITLES and _question(key) is not None:
        return words(value, "answer", key)
    if key in ("classification", "current_classification"):
        return words(value, "classification")
    if key in ("flags", "flag"):
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(words(v, "flag") for v in values) or "none"
    if key in ("subject", "subjects", "exception_subjects"):
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(words(v, "subject") for v in values) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{words(k, 'field')}: {_change_value(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
        return "; ".join(_change_value(key, v) for v in value)
    if isinstance(value, str) and (when := page_date(value)):
        return when
    return words(value)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def page_date(value: str) -> str:
    """An ISO date or date-time recorded as text (audit changes) in the pages' format:
    "6 Mar 2027", or "6 Mar 2027 23:35" in the site's time zone; "" if it is not one."""
    from django.utils import dateformat, timezone
    from django.utils.dateparse import parse_date, parse_datetime

    try:
        if _ISO_DATETIME.fullmatch(value):
            moment = parse_datetime(value)
            if moment is not None:
                if timezone.is_aware(moment):
                    moment = timezone.localtime(moment)
                return dateformat.format(moment, "j M Y H:i")
        if _ISO_DATE.fullmatch(value):
            day = parse_date(value)
            if day is not None:
                return dateformat.format(day, "j M Y")
    except ValueError:
        return ""  # looks like a date but is not one (2027-02-30): shown as given
    return ""


def change_rows(changes: Any) -> list[tuple[str, str]]:
    """An audit event's recorded change as (what, how) rows in words."""
    if not isinstance(changes, Mapping):
        return [("Change", words(changes))] if changes else []
    return [(words(key, "field"), _change_value(key, value)) for key, value in changes.items()]


def actor_name(event: Any) -> str:
    """Who did it, by name: the person's full name when the event's actor still exists
    and has one (load events with ``select_related("actor")``), else the username
    recorded with the event ("system" for the application itself)."""
    actor = event.actor if event.actor_id else None
    name = actor.get_full_name() if actor is not None else ""
    return name or event.actor_label


def history(events: Any) -> list[dict[str, Any]]:
    """Audit events as a person reads a history: consecutive answers saved by the same
    person are one entry ("answered 7 questions"), with the saves inside it."""
    entries: list[dict[str, Any]] = []
    for event in events:
        last = entries[-1] if entries else None
        if (
            event.verb == "assessment.answer"
            and last is not None
            and last["verb"] == "assessment.answer"
            and last["actor_id"] == event.actor_id
        ):
            last["events"].append(event)
            last["keys"].update(event.changes or {})
            last["last_at"] = event.created_at
        else:
            entries.append(
                {
                    "verb": event.verb,
                    "actor_id": event.actor_id,
                    "actor_label": actor_name(event),
                    "created_at": event.created_at,
                    "last_at": event.created_at,
                    "events": [event],
                    "keys": set(event.changes or {})
                    if event.verb == "assessment.answer"
                    else set(),
                }
            )
    for entry in entries:
        if entry["verb"] == "assessment.answer":
            n = len(entry["keys"])
            entry["label"] = f"answered {n} question{'s' if n != 1 else ''}"
        else:
            entry["label"] = words(entry["verb"], "verb")
        entry["grouped"] = len(entry["events"]) > 1
    return entries
