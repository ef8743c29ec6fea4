"""The REST API, version 1, at ``/api/v1/`` (django-ninja, OpenAPI 3.1).

A thin surface over ``assessments.actions``: every change an endpoint makes is the
same named action the pages call, so it writes the same audit event and obeys the
same rules (four-eyes, stale writes refused, retired agents frozen). Reads use the
same QuerySet methods and filter forms as the pages.

- ``core``: the API object, bearer-token and session authentication, scopes, and
  RFC 9457 problem responses; the Swagger UI page from vendored static files.
- ``schemas``: the typed request and response shapes.
- ``agents``, ``assessments``, ``manifests``, ``queue``, ``reports``, ``audit``,
  ``catalogue``, ``evidence``, ``discovery``, ``certification``: one router per area.

Scopes: ``read`` for every GET, ``write`` for inventory, assessment and report
changes, ``review`` for approving, returning and assigning. A token's scopes narrow
what its account's role allows; a signed-in browser session has its role's reach
(and unsafe methods need the CSRF token).
"""

from assessments.api import (
    agents,
    assessments,
    audit,
    catalogue,
    certification,
    discovery,
    evidence,
    manifests,
    queue,
    reports,
)
from assessments.api.core import api

for module in (
    agents,
    assessments,
    manifests,
    queue,
    reports,
    audit,
    catalogue,
    evidence,
    discovery,
    certification,
):
    api.add_router("", module.router)

__all__ = ["api"]
