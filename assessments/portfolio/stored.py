"""The portfolio figures as stored: marked changed by writes, computed again in the
background, read by the pages without ever computing them.

What the figures are is defined in ``assessments/portfolio/`` (``portfolio._compute``
gathers them); this module decides *when* they are computed and hands pages the last
ones, with the time they were computed:

- a write to what the figures count (``changed``, called through ``portfolio_changed``)
  marks every stored snapshot changed and, once the transaction commits, queues the
  background task ``refresh_portfolio_figures`` (assessments/tasks.py);
- a page reads the stored snapshot of its scope (``read``: one query). When it is
  changed, of another day, older than ``MAX_AGE`` or missing (a fresh install, a reader
  of a new set of teams), the page still shows what is stored, labelled "as of 14:02,
  updating" (or "being computed" when nothing is), queues the task if none is queued,
  and the page polls ``figures_status`` until newer figures land;
- the task (``refresh``) computes them with the database's aggregates and stores them.

With the immediate tasks backend (the test suite) the queued task runs at once, so a
page reads figures computed for it; with the database backend (``db_worker``) or RQ a
page never waits for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, When
from django.utils import timezone

from assessments.access import scope as scopes
from assessments.models import Agent, PortfolioSnapshot
from assessments.workflow import background

WHOLE = ""  # the scope of the whole portfolio
TASK = "refresh_portfolio_figures"
# A snapshot older than this is computed again whatever happened (a write that commits
# while the figures are computed may be missed by them).
MAX_AGE = dt.timedelta(minutes=5)
# A computation queued this long ago and not finished is queued again (a worker stopped).
PATIENCE = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Stored:
    """A scope's figures as stored (``None`` before the first computation), when their
    computation began and whether newer ones are on their way."""

    scope: str
    figures: dict[str, Any] | None
    computed_at: dt.datetime | None
    updating: bool

    @property
    def ready(self) -> bool:
        return self.figures is not None


def scope_of(user: Any) -> str:
    """The scope of the figures ``user`` reads: the whole portfolio, or their teams."""
    if scopes.reads_all(user):
        return WHOLE
    return "teams:" + ",".join(str(pk) for pk in sorted(scopes.team_ids(user)))


def agents_of(scope: str) -> Any:
    """The agents a scope's figures count (``None``: all of them)."""
    if scope == WHOLE:
        return None
    ids = [int(pk) for pk in scope.removeprefix("teams:").split(",") if pk]
    return Agent.objects.filter(team_id__in=ids)


def _current(row: dict[str, Any], today: dt.date, now: dt.datetime) -> bool:
    from assessments.portfolio import SNAPSHOT_FORMAT

    figures = row["figures"]
    return (
        figures is not None
        and figures.get("format") == SNAPSHOT_FORMAT
        and row["day"] == today
        and row["changed_at"] is None
        and row["computed_at"] is not None
        and now - row["computed_at"] <= MAX_AGE
    )


FIELDS = ("figures", "computed_at", "changed_at", "queued_at", "day")


def read(today: dt.date, scope: str = WHOLE) -> Stored:
    """The stored figures of ``scope`` (one query). When they are not current, the
    background task is queued (once) and the last figures are returned, marked
    updating. Never computes the figures in the caller."""
    now = timezone.now()
    row = PortfolioSnapshot.objects.filter(scope=scope).values(*FIELDS).first()
    if row is not None and _current(row, today, now):
        return Stored(scope, row["figures"], row["computed_at"], updating=False)
    if _ask(scope, today, row, now):
        # The immediate backend has computed them by now: read what it stored.
        row = PortfolioSnapshot.objects.filter(scope=scope).values(*FIELDS).first()
        if row is not None and _current(row, today, timezone.now()):
            return Stored(scope, row["figures"], row["computed_at"], updating=False)
    if row is None:
        return Stored(scope, None, None, updating=True)
    from assessments.portfolio import SNAPSHOT_FORMAT

    figures = row["figures"]
    if figures is not None and figures.get("format") != SNAPSHOT_FORMAT:
        figures = None  # stored by an older release: not readable as these figures
    return Stored(scope, figures, row["computed_at"], updating=True)


def _ask(scope: str, today: dt.date, row: dict[str, Any] | None, now: dt.datetime) -> bool:
    """Queue the computation of ``scope`` unless one is queued already; True if queued."""
    if row is None:
        try:
            with transaction.atomic():
                PortfolioSnapshot.objects.create(scope=scope, day=today, queued_at=now)
        except IntegrityError:  # another request made the row first: it queued the task
            return False
    else:
        if row["queued_at"] is not None and row["queued_at"] >= now - PATIENCE:
            return False  # queued already: a reader writes nothing (no wait for a lock)
        claimed = (
            PortfolioSnapshot.objects.filter(scope=scope)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - PATIENCE))
            .update(queued_at=now)
        )
        if not claimed:
            return False
    background.enqueue(TASK, scope=scope, requested_at=now.isoformat(), on_commit=False)
    return True


def changed() -> None:
    """A write moved (or may have moved) the figures: mark every snapshot changed and,
    once the transaction commits, queue their computation (once per transaction: a
    computation that began before this write committed may have missed it)."""
    now = timezone.now()
    marked = PortfolioSnapshot.objects.filter(changed_at__isnull=True).update(changed_at=now)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _queue_all()
    elif marked or not any(
        callback is _queue_all for _ids, callback, _robust in connection.run_on_commit
    ):
        # The first write of a transaction to mark them always queues (in a test case
        # the callbacks of earlier writes linger uncommitted in the same transaction).
        transaction.on_commit(_queue_all)


def _queue_all() -> None:
    now = timezone.now()
    PortfolioSnapshot.objects.update(queued_at=now)
    background.enqueue(TASK, requested_at=now.isoformat(), on_commit=False)


def refresh(scope: str | None = None, requested_at: str | None = None) -> list[str]:
    """Compute and store the figures of ``scope`` (``None``: of every scope stored, the
    whole portfolio first), unless they were computed since ``requested_at``. Returns
    the scopes computed."""
    requested = dt.datetime.fromisoformat(requested_at) if requested_at else None
    if scope is None:
        stored = set(PortfolioSnapshot.objects.values_list("scope", flat=True))
        wanted = [WHOLE, *sorted(stored - {WHOLE})]
    else:
        wanted = [scope]
    return [s for s in wanted if _refresh_one(s, requested)]


def _refresh_one(scope: str, requested: dt.datetime | None) -> bool:
    from assessments.portfolio import _compute

    today = timezone.localdate()
    started = timezone.now()
    row = PortfolioSnapshot.objects.filter(scope=scope).values(*FIELDS).first()
    if (
        row is not None
        and requested is not None
        and row["computed_at"] is not None
        and row["computed_at"] >= requested
        and _current(row, today, started)
    ):
        return False  # a computation that began after the request covered it
    if row is None:
        try:
            with transaction.atomic():
                PortfolioSnapshot.objects.create(scope=scope, day=today, queued_at=started)
        except IntegrityError:
            pass
    # From here on, a write marks the snapshot changed again (and queues the next run).
    PortfolioSnapshot.objects.filter(scope=scope).update(changed_at=None, queued_at=started)
    data = _compute(today, agents_of(scope))
    PortfolioSnapshot.objects.filter(scope=scope).filter(
        Q(computed_at__isnull=True) | Q(computed_at__lte=started)
    ).update(
        figures=data,
        computed_at=started,
        day=today,
        # Still queued by a write made meanwhile: keep it; else nothing is queued now.
        queued_at=Case(When(queued_at=started, then=None), default=F("queued_at")),
    )
    return True
