"""What every area's models build on: the portfolio's change signal and query sets, append-only records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.utils import timezone

# Fields whose change moves no portfolio figure: a draft's autosave writes only these, so
# it leaves the dashboard's snapshot in place (see PortfolioSnapshot).
PORTFOLIO_QUIET_FIELDS = frozenset(
    {"answers", "answer_versions", "lock_version", "current_step", "updated_at", "created_at"}
)


def start_of_day(day: dt.date) -> dt.datetime:
    """The first instant of ``day`` in the current time zone: a day of the pages and
    reports (``timezone.localdate()``), not a UTC day."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of ``day`` in the current time zone (see ``start_of_day``): what
    "as it stood at the end of a past day" counts up to."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=timezone.get_current_timezone())


def portfolio_changed() -> None:
    """Mark the portfolio figures changed; once the transaction commits, their
    recomputation is queued as background work (``assessments.portfolio.stored``)."""
    from assessments.portfolio import stored as figures  # it imports the models

    figures.changed()


class PortfolioQuerySet[M: models.Model](models.QuerySet[M]):
    """A queryset of a model the portfolio figures read (agents, assessments, exceptions,
    reviews): writes that bypass ``save()`` drop the snapshot too."""

    def update(self, **kwargs: Any) -> int:
        changed = super().update(**kwargs)
        if changed and not set(kwargs) <= PORTFOLIO_QUIET_FIELDS:
            portfolio_changed()
        return changed

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[M]:
        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            portfolio_changed()
        return created

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        changed = super().bulk_update(objs, fields, *args, **kwargs)
        if changed and not set(fields) <= PORTFOLIO_QUIET_FIELDS:
            portfolio_changed()
        return changed


class ImmutableRecordError(Exception):
    """An attempt to change a record that is immutable by design."""


class AppendOnlyQuerySet[M: models.Model](models.QuerySet[M]):
    """Rows that are only ever added: bulk ``update()`` and ``delete()`` are refused
    (so are the model's ``save()`` of a stored row and ``delete()``, and the database)."""

    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecordError(f"{self.model._meta.verbose_name_plural} are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError(f"{self.model._meta.verbose_name_plural} are append-only.")

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]
