"""NIST SP 800-53 Rev. 5 in the catalogue (issue 27): every id and title is NIST's own,
every AIC/MIC control maps to the controls it implements or supports, and the framework
reaches catalogue 2026.1 in databases made before it was added."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.apps import apps as global_apps
from django.test import TestCase
from django.urls import reverse

from assessments import portfolio
from assessments.models import CatalogueVersion, ControlMapping, Framework, FrameworkItem
from assessments.workflow import decisions
from tests import catalogue_helpers as h
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent
KEY = "nist_sp_800_53_rev5"
NIST_INDEX = ROOT / "tests" / "fixtures" / "oscal" / "nist-sp800-53-rev5-controls.json"
# The controls and enhancements issue 27 names. CA-5 (Plan of Action and Milestones) is
# what the POA&M export is; no agent control implements it, so nothing maps to it.
ISSUE_IDS = {
    "IA-4", "IA-5(7)", "IA-5(13)", "IA-9", "IA-11", "AC-2(3)", "AC-2(4)", "AC-3", "AC-4",
    "AC-6(1)", "AC-6(7)", "AC-6(9)", "AC-6(10)", "AC-16", "AC-24", "AU-2", "AU-3", "AU-9",
    "AU-10", "AU-12", "AU-16", "CM-7", "CM-8", "CA-5", "CA-7", "SA-9", "SC-23", "SC-39",
    "SI-4", "SI-10", "SR-3", "SR-4", "IR-4",
}  # fmt: skip
NOT_APPLICABLE = {"CA-5"}
# Added after the release the vendored index was made from (see its README).
LATER_CONTROLS = {"IA-13", "SA-24"}
LATER_ENHANCEMENTS = {"IA-13(1)", "IA-13(2)", "IA-13(3)", "SA-15(13)", "SI-2(7)"}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    path = ROOT / "assessments" / "catalog" / "catalogue-v1.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def framework(raw) -> dict[str, Any]:
    return next(fw for fw in raw["frameworks"] if fw["key"] == KEY)


@pytest.fixture(scope="module")
def nist() -> dict[str, Any]:
    return json.loads(NIST_INDEX.read_text(encoding="utf-8"))


def nist_entries(nist: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """label (AC-6(7)) or family code (AC) -> NIST's entry, with its kind and parent."""
    out: dict[str, dict[str, Any]] = {}
    for fam in nist["families"]:
        code = fam["id"].upper()
        out[code] = {"title": fam["title"], "kind": "family", "parent": None, "id": fam["id"]}
        for c in fam["controls"]:
            out[c["label"]] = c | {"kind": "control", "parent": code}
            for e in c.get("enhancements", []):
                out[e["label"]] = e | {"kind": "enhancement", "parent": c["label"]}
    return out


def test_the_vendored_index_is_nists_rev5_catalogue(nist):
    source = nist["source"]
    assert source["repository"] == "https://github.com/usnistgov/oscal-content"
    assert source["catalog_uuid"] == "613fca2d-704a-42e7-8e2b-b206fb92b456"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert [fam["id"] for fam in nist["families"]] == [
        "ac", "at", "au", "ca", "cm", "cp", "ia", "ir", "ma", "mp",
        "pe", "pl", "pm", "ps", "pt", "ra", "sa", "sc", "si", "sr",
    ]  # fmt: skip


def test_every_item_id_and_title_is_nists_own(framework, nist):
    entries = nist_entries(nist)
    for item in framework["items"]:
        entry = entries.get(item["id"])
        assert entry is not None, f"{item['id']} is not in NIST's SP 800-53 Rev. 5 catalogue"
        assert not entry.get("withdrawn"), f"{item['id']} is withdrawn"
        assert item["title"] == entry["title"], item["id"]
        assert item.get("parent") == entry["parent"], item["id"]


def test_every_mapping_names_an_item_of_the_framework(raw, framework):
    ids = {i["id"] for i in framework["items"]}
    mapped = [m["item"] for c in raw["controls"] for m in c["mappings"] if m["framework"] == KEY]
    assert mapped and set(mapped) <= ids
    # Every listed control or enhancement is mapped (families are reached through them).
    assert {i for i in ids if "-" in i} - set(mapped) <= {
        i["parent"] for i in framework["items"] if "(" in i["id"]
    }


def test_every_control_the_issue_names_is_mapped_where_it_applies(raw):
    mapped = {m["item"] for c in raw["controls"] for m in c["mappings"] if m["framework"] == KEY}
    assert mapped >= ISSUE_IDS - NOT_APPLICABLE, sorted(ISSUE_IDS - NOT_APPLICABLE - mapped)


def test_every_agent_and_machine_control_maps_to_800_53(raw):
    for control in raw["controls"]:
        items = [m["item"] for m in control["mappings"] if m["framework"] == KEY]
        assert items, control["id"]
        assert len(items) == len(set(items)), control["id"]


def test_specific_mappings_a_reviewer_would_look_for(raw):
    by_control = {
        c["id"]: {m["item"] for m in c["mappings"] if m["framework"] == KEY}
        for c in raw["controls"]
    }
    assert {"IA-4", "IA-9"} <= by_control["AIC-01"]
    assert {"IA-5(13)", "IA-11"} <= by_control["AIC-02"]
    assert {"AU-10", "AU-3", "AU-12"} <= by_control["AIC-05"]
    assert "IA-5(7)" in by_control["MIC-02"]
    assert {"AC-2(3)", "IR-4"} <= by_control["AIC-08"]


def test_level_totals_are_nists_counts_of_release_5_2_0(framework, nist):
    entries = nist_entries(nist)
    live = [e for e in entries.values() if not e.get("withdrawn")]
    assert not (LATER_CONTROLS | LATER_ENHANCEMENTS) & set(entries)
    families = sum(1 for e in live if e["kind"] == "family")
    controls = sum(1 for e in live if e["kind"] == "control") + len(LATER_CONTROLS)
    enhancements = sum(1 for e in live if e["kind"] == "enhancement") + len(LATER_ENHANCEMENTS)
    assert framework["levels"] == [
        {"name": "families", "total": families},
        {"name": "controls", "total": controls},
        {"name": "control enhancements", "total": enhancements},
    ]
    assert (families, controls, enhancements) == (20, 300, 714)


def test_a_made_up_id_would_be_caught(framework, nist):
    entries = nist_entries(nist)
    assert "AC-6(99)" not in entries and "IA-5(7)" in entries
    assert entries["IA-5(7)"]["title"] == "No Embedded Unencrypted Static Authenticators"


class MigrationTests(TestCase):
    """Databases whose catalogue 2026.1 was installed before 800-53 was added get it."""

    def setUp(self):
        self.migration = importlib.import_module("assessments.migrations.0081_oscal_nist_800_53")
        self.version = CatalogueVersion.objects.get(version="2026.1")

    def counts(self) -> tuple[int, int]:
        return (
            FrameworkItem.objects.filter(
                framework__catalogue=self.version, framework__key=KEY
            ).count(),
            ControlMapping.objects.filter(
                control__catalogue=self.version, item__framework__key=KEY
            ).count(),
        )

    def test_the_migration_adds_the_framework_once(self):
        installed = self.counts()
        self.assertGreater(installed[1], 40)
        Framework.objects.filter(catalogue=self.version, key=KEY).delete()
        self.assertEqual(self.counts(), (0, 0))
        before = CatalogueVersion.objects.get(pk=self.version.pk).updated_at
        self.migration.add_framework(global_apps, None)
        self.assertEqual(self.counts(), installed)
        self.assertGreater(CatalogueVersion.objects.get(pk=self.version.pk).updated_at, before)
        self.migration.add_framework(global_apps, None)  # a second run changes nothing
        self.assertEqual(self.counts(), installed)
        data = decisions.catalogue_data(self.version)
        fw = next(fw for fw in data["frameworks"] if fw["key"] == KEY)
        self.assertEqual(data["frameworks"][-1]["key"], KEY)
        self.assertEqual(fw["levels"][1], {"name": "controls", "total": 300})
        items = {i["id"]: i for i in fw["items"]}
        self.assertEqual(items["AC-6(7)"]["parent"], "AC-6")
        self.assertEqual(items["AC-6"]["parent"], "AC")


class SurfacesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.viewer = f.viewer()
        cls.v1 = h.current()

    def test_the_catalogue_page_shows_800_53_as_a_tree(self):
        self.client.force_login(self.viewer)
        response = self.client.get(reverse("assessments:catalogue"))
        views = {v.framework.key: v for v in response.context["frameworks"]}
        view = views[KEY]
        self.assertTrue(view.is_tree)
        ac = next(n for n in view.roots if n.item.item_id == "AC")
        ac6 = next(n for n in ac.children if n.item.item_id == "AC-6")
        ac67 = next(n for n in ac6.children if n.item.item_id == "AC-6(7)")
        self.assertEqual(ac67.item.title, "Review of User Privileges")
        self.assertIn("AIC-08", ac67.controls)
        self.assertContains(response, "NIST SP 800-53 Rev. 5")
        self.assertContains(response, "Review of User Privileges")

    def test_coverage_counts_800_53_level_by_level(self):
        data = decisions.catalogue_data(self.v1)
        fw = next(fw for fw in data["frameworks"] if fw["key"] == KEY)
        controls = [
            {"id": "AIC-01", "status": "in_place"},
            {"id": "AIC-02", "status": "gap"},
        ]
        addressed = portfolio.addressed_items(data, controls)[KEY]
        self.assertEqual(addressed, {"IA", "IA-4", "IA-9", "AC", "AC-2"})
        levels = [lv.text for lv in portfolio.level_coverage(fw, addressed)]
        self.assertEqual(
            levels, ["families 2 of 20", "controls 3 of 300", "control enhancements 0 of 714"]
        )
