"""The audit log, for a SIEM: events after a cursor, oldest first, with chain fields."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from assessments.access import foreign, scope
from assessments.api.core import ERRORS, require
from assessments.api.schemas import AuditEventOut, AuditEventPage
from assessments.models import AuditEvent

router = Router(tags=["audit"])


class AuditCursor(Schema):
    since: int = Field(0, ge=0, le=2**62, description="Return events with an id above this.")
    limit: int = Field(100, ge=1, le=1000)


@router.get("/audit-events", response={200: AuditEventPage, **ERRORS}, url_name="audit_events")
def audit_events(request: HttpRequest, cursor: Query[AuditCursor]) -> Any:
    """Events with an id above ``since``, oldest first. Each carries ``prev_hash`` and
    ``hash``, so the chain can be checked as it is read; keep ``next_since`` and ask
    again for what happened after. A reader limited to their teams (TEAM_SCOPED_READING)
    gets their teams' events only, so the chain has gaps for them, and where an event's
    changes name another team's agent they read "an agent of another team" (its hash is
    then that of what they may not read): checking the whole chain is an
    administrator's task."""
    user = require(request, "read", "assessments.view_audit")
    events = scope.readable_events(AuditEvent.objects.filter(id__gt=cursor.since), user)
    rows = list(events.order_by("id")[: cursor.limit + 1])
    more = len(rows) > cursor.limit
    rows = foreign.events_shown_to(user, rows[: cursor.limit])
    return {
        "events": [AuditEventOut.of(e) for e in rows],
        "next_since": rows[-1].pk if rows else cursor.since,
        "more": more,
    }
