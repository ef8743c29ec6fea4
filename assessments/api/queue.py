"""The reassessment queue: list it as the Review queue page does, and assign reviews."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router, Schema

from assessments import actions
from assessments.access import foreign, scope
from assessments.api.agents import page_of
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import AssignIn, QueueItem, QueuePage
from assessments.forms.reviews import QueueFilterForm
from assessments.models import Review
from assessments.workflow import reviews

router = Router(tags=["queue"])
User = get_user_model()


class QueueFilters(Schema):
    state: str = ""
    tier: str = ""
    classification: str = ""
    team: str = ""
    owner: str = ""
    assignee: str = ""
    reason: str = ""
    sort: str = ""
    page: int = 1


def _item(review: Review, today: Any) -> dict[str, Any]:
    return {"id": review.pk, **reviews.queue_item(review, today)}


def _items(reviews_: Any, today: Any, user: Any) -> list[dict[str, Any]]:
    """Queue items as ``user`` reads them: reasons that name another team's agent, with
    reading scoped, say "an agent of another team" (``foreign.py``)."""
    items = [_item(r, today) for r in reviews_]
    hidden = foreign.unreadable_named(user, [item["reasons"] for item in items])
    for item in items:
        item["reasons"] = foreign.redact_named(item["reasons"], hidden)
    return items


@router.get("/queue", response={200: QueuePage, **ERRORS}, url_name="queue")
def list_queue(request: HttpRequest, filters: Query[QueueFilters]) -> Any:
    """Open reviews that need work (triggered, overdue, or due within 30 days), with the
    counts per state the page shows."""
    user = require(request, "read", "assessments.view_review")
    today = timezone.localdate()
    form = QueueFilterForm(filters.dict(), reviewers=list(reviews.reviewers()), user=user)
    if not form.is_valid():
        errors = [
            {"location": f"query.{name}", "message": str(m)}
            for name, messages in form.errors.items()
            for m in messages
        ]
        raise ApiError(422, "A filter is not understood.", errors=errors)
    data = form.cleaned_data
    queue = reviews.filter_queue(
        scope.readable(Review.objects.in_queue(reviews.QUEUE_DAYS, today), user, "agent__team"),
        data,
        user,
    )
    counts = reviews.state_counts(queue, today)
    rows = reviews.for_rows(queue, today)
    if data.get("state"):
        rows = rows.filter(Q(queue_state=data["state"]))
    current, meta = page_of(reviews.sort_queue(rows, data.get("sort") or "due"), filters.page)
    return {**meta, "counts": counts, "results": _items(current.object_list, today, user)}


@router.post(
    "/queue/{review_id}/assign", response={200: QueueItem, **ERRORS}, url_name="queue_assign"
)
def assign(request: HttpRequest, review_id: int, body: AssignIn) -> Any:
    """Assign an open review to a reviewer (by username), or unassign it with null.
    Send the review's ``lock_version`` from the queue: if someone assigned it since,
    nothing changes and the answer is 409 with the current version."""
    user = require(request, "review", "assessments.change_review")
    if not 0 < review_id < 2**63:
        raise ApiError(404, "There is no such review.")
    review = get_object_or_404(Review.objects.select_related("agent__team"), pk=review_id)
    if not scope.may_read(user, review.agent):
        raise ApiError(404, "There is no such review.")
    assignee = None
    if body.assignee:
        assignee = reviews.reviewers().filter(username=body.assignee).first()
        if assignee is None:
            raise ApiError(
                422,
                "Choose a reviewer: no reviewer has this username.",
                errors=[{"location": "body.assignee", "message": "Not a reviewer."}],
            )
    actions.assign_review(
        user, review, assignee, expected_version=body.lock_version, request=request
    )
    today = timezone.localdate()
    return _items(
        [reviews.for_rows(Review.objects.filter(pk=review.pk), today).get()], today, user
    )[0]
