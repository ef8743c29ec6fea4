from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django_htmx.middleware import HtmxDetails

from assessments.access import scope
from assessments.models import Agent
from assessments.presentation import PAGE_SIZE


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


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


class IdPaginator(Paginator):
    """Pages of a queryset whose rows are costly to work out (subqueries per row): the
    page is chosen on the ids alone, in the queryset's order, then only that page's rows
    are read in full. Asked for page 150 in one query, PostgreSQL works out the
    subqueries of the 7,450 rows it skips too (0.8 s at 10,000 agents).

    ``scan``: the list can only be found by reading every item (a text search): the
    page's ids then come with the number of items (a window over the whole list), so it
    is read once, not once to count it and again for the page. Otherwise an index
    counts and pages faster apart."""

    _ids: dict[int, list[Any]]

    def __init__(self, *args: Any, scan: bool = False, rows: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scan = scan
        # Where the page's rows are read once their ids are known: the list's queryset
        # without its filters (a search would be worked out again for 50 ids).
        self.rows = rows

    def get_page(self, number: Any) -> Page:
        self._ids = {}
        if not self.scan:
            return super().get_page(number)
        try:
            wanted = int(number) if number not in (None, "") else 1
        except (TypeError, ValueError):
            wanted = 0
        # A page number past any real list (a junk query string) is counted apart first,
        # as usual, never turned into an offset the database cannot hold.
        if 1 <= wanted <= 1_000_000 and "count" not in self.__dict__:
            items: Any = self.object_list
            bottom = (wanted - 1) * self.per_page
            found = list(
                items.annotate(in_all=Window(Count("pk"))).values_list("pk", "in_all")[
                    bottom : bottom + self.per_page + self.orphans
                ]
            )
            if found:  # else out of range or nothing at all: counted apart, as usual
                self.count = found[0][1]  # type: ignore[misc]
                self._ids[wanted] = [pk for pk, _total in found]
        return super().get_page(number)

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        items: Any = self.object_list
        ids = getattr(self, "_ids", {}).get(number)
        if ids is None:
            ids = list(items.values_list("pk", flat=True)[bottom:top])
        ids = ids[: top - bottom]
        source = items if self.rows is None else self.rows
        rows = {row.pk: row for row in source.filter(pk__in=ids).order_by()}
        return Page([rows[pk] for pk in ids if pk in rows], number, self)


def paginate_by_id(
    request: HttpRequest,
    items: Any,
    per_page: int = PAGE_SIZE,
    *,
    scan: bool = False,
    rows: Any = None,
) -> Page:
    """``paginate`` with an ``IdPaginator`` (``scan``, ``rows``: see there)."""
    paginator = IdPaginator(items, per_page, scan=scan, rows=rows)
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


def confirm_revoke(request: HtmxHttpRequest, **context: Any) -> HttpResponse:
    """The question asked before revoking a token or a calendar feed: the page
    ``assessments/confirm_revoke.html``, or only its "confirm" partial when htmx asks
    for it to fill the app's own dialog (``includes/confirm_dialog.html``)."""
    template = "assessments/confirm_revoke.html"
    if request.htmx:
        template += "#confirm"
    return render(request, template, context)
