"""The control catalogue (read only): frameworks, controls, mappings, reference notes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import CatalogueOut
from assessments.models import CatalogueVersion
from assessments.workflow import decisions

router = Router(tags=["catalogue"])


@router.get("/catalogue", response={200: CatalogueOut, **ERRORS}, url_name="catalogue")
def catalogue(request: HttpRequest, version: str = "") -> Any:
    """The current catalogue version, or the one named by ``version``."""
    require(request, "read", "assessments.view_catalogueversion")
    versions = CatalogueVersion.objects.all()
    found = (
        versions.filter(version=version[:32]).first()
        if version
        else versions.filter(is_current=True).first()
    )
    if found is None:
        raise ApiError(404, "There is no such catalogue version.")
    return {**decisions.catalogue_data(found), "is_current": found.is_current}
