"""The reassessment queue: filter, sort, assign, and start the re-assessment from a row.

One URL serves the page and, for htmx, its results (``#queue-results``), which the
filters and the assignment form above the table swap. Every htmx request has a plain
form or link behind it, so the page works without JavaScript: the rows ticked are
assigned by that one form (``queue_bulk_assign``), with or without htmx.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from assessments import actions, portfolio
from assessments.access import scope
from assessments.access.roles import permission_required
from assessments.forms.reviews import QueueFilterForm
from assessments.models import Review
from assessments.portfolio import stored as stored_figures
from assessments.presentation import rows as rows_for_page
from assessments.views.common import (
    MISSING_VERSION,
    HtmxHttpRequest,
    paginate,
    parse_id,
    query_without,
    scoped_agent,
)
from assessments.workflow import reviews

TEMPLATE = "assessments/queue.html"


def _queue_context(request: HtmxHttpRequest, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    people = list(reviews.reviewers())
    form = QueueFilterForm(request.GET, reviewers=people, user=request.user)
    form.is_valid()  # invalid values are dropped from cleaned_data and ignored
    data = form.cleaned_data
    queue = reviews.filter_queue(
        scope.readable(
            Review.objects.in_queue(reviews.QUEUE_DAYS, today), request.user, "agent__team"
        ),
        data,
        request.user,
    )
    # Someone who reads only their teams sees their teams' counts, not the portfolio's.
    narrowed = any(data.get(key) for key in reviews.QUEUE_FILTERS) or not scope.reads_all(
        request.user
    )
    # The whole queue's counts are the dashboard's, kept in the portfolio snapshot (and
    # counted here like a narrowed queue's before its first computation: a fresh install).
    stored = None if narrowed else stored_figures.read(today)
    if stored is not None and stored.ready:
        counts = stored.figures["states"]
    else:
        stored, counts = None, reviews.state_counts(queue, today)
    rows = reviews.for_rows(queue, today)
    state = data.get("state") or ""
    if state:
        rows = rows.filter(Q(queue_state=state))
    sort = data.get("sort") or "due"
    page = paginate(
        request, reviews.sort_queue(rows, sort), count=counts[state] if state else counts["total"]
    )
    filtered = any(v for k, v in request.GET.items() if k not in ("page", "sort"))
    return {
        "form": form,
        "page": page,
        "rows": rows_for_page.queue_rows(page.object_list, today, request.user),
        "counts": counts,
        "triggered_past_due": portfolio.triggered_past_due_words(counts),
        "state": state,
        "sort": sort,
        "today": today,
        "filtered": filtered,
        "query_without_page": query_without(request, "page"),
        "query_without_state": query_without(request, "state", "page"),
        "state_labels": reviews.STATE_LABELS,
        "stored": stored,  # the counts' "as of ..." when read from the snapshot
        "reviewers": people,
        "can_assign": request.user.has_perm("assessments.change_review"),
        "query": request.GET.urlencode(),
        **extra,
    }


@permission_required("assessments.view_review")
@require_GET
def queue(request: HtmxHttpRequest) -> HttpResponse:
    template = TEMPLATE
    if request.htmx and request.htmx.target == "queue-results":
        template += "#results"
    return render(request, template, _queue_context(request))


def _queue_redirect(request: HtmxHttpRequest) -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(reverse("assessments:queue") + (f"?{query}" if query else ""))


def _chosen_assignee(request: HtmxHttpRequest) -> tuple[Any, str | None]:
    """(assignee or None to unassign, error). "Assign to me" is its own button."""
    if request.POST.get("to_me"):
        return request.user, None
    value = request.POST.get("assignee", "").strip()
    if not value:
        return None, None
    pk = parse_id(value)
    person = reviews.reviewers().filter(pk=pk).first() if pk is not None else None
    if person is None:
        return None, "Choose a reviewer from the list."
    return person, None


@permission_required("assessments.change_review")
@require_POST
def queue_bulk_assign(request: HtmxHttpRequest) -> HttpResponse:
    ids = [pk for v in request.POST.getlist("review") if (pk := parse_id(v)) is not None]
    # Each ticked row sends the version of the review it showed (version-<id>).
    versions = {pk: parse_id(request.POST.get(f"version-{pk}")) for pk in ids}
    if None in versions.values():
        return HttpResponse(MISSING_VERSION, status=400)
    assignee, error = _chosen_assignee(request)
    if error is None and not ids:
        error = "Tick the reviews to assign first."
    notice = ""
    status = 422
    if error is None:
        try:
            changed = actions.assign_reviews(
                request.user, ids, assignee, versions=versions, request=request
            )
        except actions.ConflictError as exc:
            error, status = str(exc), 409
        except actions.ActionError as exc:
            error = str(exc)
        else:
            n = len(changed)
            who = reviews.person(assignee) if assignee else "nobody"
            notice = (
                f"{n} review{'s' if n != 1 else ''} assigned to {who}."
                if n
                else f"Nothing changed: the ticked reviews were already assigned to {who}."
            )
    if request.htmx:
        context = _queue_context(request, bulk_notice=notice or None, bulk_error=error)
        return render(request, f"{TEMPLATE}#results", context, status=status if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return _queue_redirect(request)


@permission_required("assessments.add_assessment")
@require_POST
def planned_change_landed(request: HtmxHttpRequest, slug: str, change: str) -> HttpResponse:
    agent = scoped_agent(request, slug, need="edit")
    try:
        actions.mark_planned_change_landed(request.user, agent, change, request=request)
    except actions.ActionError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Marked as landed: {reviews.planned_change_label(change).lower()}. "
            f"{agent.name} is due for reassessment now.",
        )
    return redirect(agent)
