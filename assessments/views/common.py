from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django_htmx.middleware import HtmxDetails

from assessments import scope
from assessments.models import Agent


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


PAGE_SIZE = 50


def paginate(
    request: HttpRequest, items: Any, per_page: int = PAGE_SIZE, *, count: int | None = None
) -> Page:
    """A page of ``items``; a bad or out-of-range ?page= gives the nearest page. ``count``:
    how many ``items`` there are when it is already known (saves counting them again)."""
    paginator = Paginator(items, per_page)
    if count is not None:
        # A cached_property, set once here from a count the caller already has.
        paginator.count = count  # type: ignore[misc]
    return paginator.get_page(request.GET.get("page"))


def parse_id(value: str | None) -> int | None:
    """A database id from user input, or None: ASCII digits that fit a bigint only."""
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def query_without(request: HttpRequest, *drop: str) -> str:
    """The current query string without ``drop`` keys (for sort and page links)."""
    pairs = [(k, v) for k, v in request.GET.items() if k not in drop and v != ""]
    return urlencode(pairs)


MISSING_VERSION = (
    "The form did not say which version of the record it was based on, so nothing was "
    "saved. Reload the page and make your change again."
)


def parse_version(request: HttpRequest) -> int | None:
    """The ``lock_version`` a form was based on, or None when missing or unreadable."""
    return parse_id(request.POST.get("lock_version"))


def scoped_agent(
    request: HttpRequest, slug: str, queryset: Any = None, *, need: str = "read"
) -> Any:
    """The agent of ``slug`` if the person may ``need`` ("read", "edit" or "decide") it.

    Not found when their teams do not cover it and reading is team-scoped (it does not
    exist for them); refused (403, audited) when they may read it but not edit or decide.
    """
    agent = get_object_or_404(
        queryset if queryset is not None else Agent.objects.select_related("team"), slug=slug
    )
    check_scope(request, agent, need)
    return agent


def check_scope(request: HttpRequest, agent: Any, need: str = "read") -> None:
    """``scoped_agent``'s check, for an agent already loaded."""
    if not scope.may_read(request.user, agent):
        raise Http404("No agent here.")
    if need == "edit":
        scope.require_edit(request.user, agent)
    elif need == "decide":
        scope.require_decide(request.user, agent)
