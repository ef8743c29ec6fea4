"""Builders for catalogue tests: catalogue data, files, and versions in use."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from assessments import actions
from assessments.engine.catalogue import BUNDLED_CATALOGUE
from assessments.models import Assessment, CatalogueVersion
from tests import factories as f


def bundled_data(version: str | None = None) -> dict[str, Any]:
    """The shipped catalogue as plain data (a fresh copy), optionally renumbered."""
    data = copy.deepcopy(yaml.safe_load(BUNDLED_CATALOGUE.read_text(encoding="utf-8")))
    if version is not None:
        data["version"] = version
    return data


def write_catalogue(directory: Path, data: dict[str, Any], name: str = "catalogue.yaml") -> str:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return str(path)


def current() -> CatalogueVersion:
    return CatalogueVersion.objects.get(is_current=True)


def submitted_under(version: CatalogueVersion | None = None, slug: str = "locker") -> Assessment:
    """A submitted assessment decided under ``version`` (default: the current one)."""
    author = f.assessor(f"{slug}-author")
    agent = f.agent(slug=slug)
    draft = f.answered(agent, author)
    if version is not None:
        Assessment.objects.filter(pk=draft.pk).update(catalogue=version)
        draft.refresh_from_db()
    return actions.submit_assessment(author, draft)
