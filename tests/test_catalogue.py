"""The catalogue: its page, its versions in the admin, and ``manage.py load_catalog``."""

from __future__ import annotations

import json
import re
import tempfile
from io import StringIO
from pathlib import Path

from django.contrib.admin import helpers
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import SimpleTestCase, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions, engine, portfolio
from assessments import catalogue as versions
from assessments.models import (
    Assessment,
    AuditEvent,
    CatalogueVersion,
    Control,
    ControlMapping,
    Framework,
    FrameworkItem,
    ReferenceNote,
)
from assessments.workflow import decisions
from tests import catalogue_helpers as h
from tests import factories as f

PAGE = reverse("assessments:catalogue")
VERSIONS_ADMIN = reverse("admin:assessments_catalogueversion_changelist")


# --------------------------------------------------------------------------- the page


class CataloguePageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.viewer = f.viewer()
        cls.v1 = h.current()

    def setUp(self):
        self.client.force_login(self.viewer)

    def test_every_role_from_viewer_up_sees_the_page_and_others_do_not(self):
        for role, factory in [
            ("viewer", f.viewer),
            ("assessor", f.assessor),
            ("reviewer", f.reviewer),
            ("administrator", f.administrator),
        ]:
            with self.subTest(role=role):
                self.client.force_login(factory(f"{role}-page"))
                response = self.client.get(PAGE)
                self.assertContains(response, "Control catalogue")
                self.assertContains(response, "AIC-01")
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.get(PAGE).status_code, 403)
        self.client.logout()
        self.assertRedirects(self.client.get(PAGE), f"{reverse('login')}?next={PAGE}")

    def test_the_nav_links_to_the_catalogue(self):
        response = self.client.get(reverse("assessments:dashboard"))
        self.assertContains(response, f'href="{PAGE}">Catalogue</a>')

    def test_the_current_version_shows_controls_frameworks_and_justified_mappings(self):
        response = self.client.get(PAGE)
        self.assertEqual(response.context["selected"], self.v1)
        for control in Control.objects.filter(catalogue=self.v1):
            self.assertContains(response, f'id="control-{control.control_id}"')
            self.assertContains(response, control.title)
        for framework in Framework.objects.filter(catalogue=self.v1):
            self.assertContains(response, framework.short_name)
        mapping = ControlMapping.objects.filter(control__catalogue=self.v1).first()
        self.assertContains(response, mapping.justification)
        self.assertContains(response, "Workload identity is issued and attested by the deployment")

    def test_the_guidances_invalid_citations_are_shown_before_the_controls(self):
        html = self.client.get(PAGE).content.decode()
        notes_at = html.index('id="reference-notes-heading"')
        self.assertLess(notes_at, html.index('id="controls-heading"'))
        notes = html[notes_at : html.index("</section>", notes_at)]
        self.assertIn("2 citations in the source guidance do not exist", notes)
        self.assertIn("OWASP Agentic AI Top 10 | A2", notes)
        self.assertIn("CSA MAESTRO | GOV-2", notes)
        self.assertIn("Cite instead:", notes)
        governance = FrameworkItem.objects.get(framework__catalogue=self.v1, item_id="GOVERN 2")
        self.assertIn(f'href="#item-{governance.pk}">NIST AI RMF 1.0 GOVERN 2</a>', notes)

    def test_conditions_read_as_plain_english(self):
        response = self.client.get(PAGE)
        html = " ".join(response.content.decode().split())
        for text in [
            "credential model is workload identity or per-task tokens, and shared platform "
            "role is no",
            '<span class="condition-or">or</span> credential model is static secret, vaulted '
            "and rotated secret or user-delegated",
            "the class is agent identity, and it works with other agents (orchestration or "
            "linked agents)",
            "the composite escalation flag fired",
            "the composite escalation flag did not fire",
            "the class is machine identity, and it has a system with admin access",
            "policy enforcement is intent-aware policy as code",
            "kill switch is yes, and access review is every year or every quarter",
            "traceability is full",
        ]:
            self.assertIn(text, html)
        self.assertNotIn("agent_identity]", html.split("Conditions as data")[0])

    def test_nist_items_form_a_tree_and_list_the_controls_mapped_to_them(self):
        response = self.client.get(PAGE)
        views = {v.framework.key: v for v in response.context["frameworks"]}
        nist = views["nist_ai_rmf_1_0"]
        self.assertTrue(nist.is_tree)
        self.assertEqual(
            [n.item.item_id for n in nist.roots], ["GOVERN", "MAP", "MEASURE", "MANAGE"]
        )
        govern_1 = nist.roots[0].children[0]
        self.assertEqual(govern_1.item.item_id, "GOVERN 1")
        self.assertEqual(govern_1.children[0].item.item_id, "GOVERN 1.1")
        govern_16 = next(n for n in govern_1.children if n.item.item_id == "GOVERN 1.6")
        self.assertEqual(govern_16.controls, ["AIC-01"])
        self.assertFalse(views["owasp_asi_top10_2026"].is_tree)
        # In the page, GOVERN 1.1 sits in a list nested inside GOVERN 1's list item.
        html = response.content.decode()
        start = html.index(f'<li id="item-{govern_1.item.pk}">')
        nested = html[start : html.index(f'<li id="item-{govern_16.item.pk}">')]
        self.assertIn('<ul class="item-tree-level">', nested)
        self.assertIn("GOVERN 1.1", nested)

    def test_the_selector_lists_every_version_which_is_current_and_its_assessments(self):
        h.submitted_under(self.v1, "first")
        h.submitted_under(self.v1, "second")
        copy = actions.copy_catalogue_version(None, self.v1, new_version="2026.2")
        response = self.client.get(PAGE)
        self.assertContains(
            response, '<option value="2026.1" selected>2026.1 (current) · 2 assessments</option>'
        )
        self.assertContains(response, '<option value="2026.2">2026.2 · 0 assessments</option>')
        self.assertContains(response, f'href="{PAGE}?version=2026.2"')
        rows = {v.version: v for v in response.context["versions"]}
        self.assertEqual(rows["2026.1"].assessment_count, 2)
        self.assertEqual(rows["2026.1"].decided_count, 2)
        self.assertEqual(rows[copy.version].assessment_count, 0)

    def test_the_counts_follow_each_new_assessment_and_decision(self):
        # The counts come from the dashboard's snapshot: every write to an assessment
        # must drop it, or the page would show a version unlocked after a submission.
        self.assertContains(self.client.get(PAGE), "2026.1 (current) · 0 assessments</option>")
        author = f.assessor("counted-author")
        draft = f.answered(f.agent(slug="counted"), author)
        response = self.client.get(PAGE)
        self.assertContains(response, "2026.1 (current) · 1 assessment</option>")
        self.assertNotContains(response, "catalogue-locked")
        actions.submit_assessment(author, draft)
        response = self.client.get(PAGE)
        self.assertEqual(response.context["selected"].decided_count, 1)
        self.assertContains(response, "catalogue-locked")

    def test_choosing_an_older_version_shows_that_version(self):
        copy = actions.copy_catalogue_version(None, self.v1, new_version="2026.2")
        Control.objects.filter(catalogue=copy, control_id="AIC-03").update(
            title="Intent-checked authorisation"
        )
        actions.make_catalogue_current(None, copy)
        old = self.client.get(PAGE, {"version": "2026.1"})
        self.assertEqual(old.context["selected"], self.v1)
        self.assertContains(old, "Intent-aware authorisation")
        self.assertNotContains(old, "Intent-checked authorisation")
        self.assertContains(old, "This is not the current catalogue.")
        new = self.client.get(PAGE)
        self.assertContains(new, "Intent-checked authorisation")
        self.assertNotContains(new, "This is not the current catalogue.")

    def test_bad_version_values_are_not_found_never_a_server_error(self):
        for value in ["nope", "2026.1'; --", "x" * 500, "bad\x00value", "../2026.1", "2026.1\n2"]:
            with self.subTest(value=value):
                response = self.client.get(PAGE, {"version": value})
                self.assertEqual(response.status_code, 404)
                self.assertContains(response, "There is no catalogue version", status_code=404)
                self.assertContains(response, "All catalogue versions", status_code=404)
                self.assertContains(
                    response,
                    '<option value="" selected disabled>Choose a version</option>',
                    status_code=404,
                )

    def test_a_blank_version_shows_the_current_one(self):
        for query in ({"version": ""}, {"version": "   "}):
            response = self.client.get(PAGE, query)
            self.assertEqual(response.context["selected"], self.v1)

    def test_htmx_swaps_only_the_content(self):
        response = self.client.get(
            PAGE,
            {"version": "2026.1"},
            headers={"HX-Request": "true", "HX-Target": "catalogue-content"},
        )
        html = response.content.decode().strip()
        self.assertTrue(html.startswith('<div id="catalogue-content"'), html[:80])
        self.assertNotIn("<html", html)
        self.assertIn("AIC-01", html)

    def test_without_any_catalogue_the_page_says_how_to_install_one(self):
        CatalogueVersion.objects.all().delete()
        response = self.client.get(PAGE)
        self.assertContains(response, "No catalogue is installed")
        self.assertContains(response, "python manage.py load_catalog")

    def test_the_page_has_no_inline_styles_scripts_or_handlers(self):
        html = self.client.get(PAGE).content.decode()
        self.assertIsNone(re.search(r"\sstyle=", html))
        self.assertIsNone(re.search(r"\son[a-z]+=", html))
        self.assertIsNone(re.search(r"<script(?![^>]*\bsrc=)", html))

    def test_a_second_visit_reads_no_catalogue_rows_yet_shows_an_edit_at_once(self):
        def queries() -> int:
            with CaptureQueriesContext(connection) as ctx:
                self.assertEqual(self.client.get(PAGE).status_code, 200)
            return len(ctx.captured_queries)

        first = queries()
        self.assertLess(queries(), first)  # controls, frameworks and notes come cached
        control = Control.objects.filter(catalogue=self.v1).order_by("position").first()
        control.title = "A title changed by an administrator"
        control.save()
        self.assertContains(self.client.get(PAGE), "A title changed by an administrator")

    def test_the_query_count_does_not_grow_with_the_catalogue(self):
        def queries() -> int:
            with CaptureQueriesContext(connection) as ctx:
                self.assertEqual(self.client.get(PAGE).status_code, 200)
            return len(ctx.captured_queries)

        # The counts are in the portfolio snapshot, computed by the first request after
        # a change to the portfolio; the loads below change none.
        portfolio.snapshot(timezone.localdate())
        small = queries()
        data = h.bundled_data("2026.big")
        items = [i["id"] for i in data["frameworks"][0]["items"]]
        for n in range(30):
            data["controls"].append(
                {
                    "id": f"EXT-{n:02d}",
                    "title": f"Extra control {n}",
                    "description": "An extra control.",
                    "applies_when": [{"classification": ["agent_identity"]}],
                    "mappings": [
                        {
                            "framework": data["frameworks"][0]["key"],
                            "item": item,
                            "justification": "x",
                        }
                        for item in items
                    ],
                }
            )
        actions.load_catalogue_version(None, data, make_current=True)
        for n in range(5):
            actions.copy_catalogue_version(None, h.current(), new_version=f"2026.big.{n}")
        with self.assertNumQueries(small):
            response = self.client.get(PAGE)
        self.assertEqual(len(response.context["controls"]), 44)


class ConditionTextTests(SimpleTestCase):
    def test_a_clause_joins_its_tests_with_and(self):
        self.assertEqual(
            versions.clause_text(
                {
                    "credential_model": ["workload_identity", "per_task_tokens"],
                    "shared_platform_role": [False],
                }
            ),
            "credential model is workload identity or per-task tokens, and shared platform role is no",
        )

    def test_clauses_are_alternatives(self):
        self.assertEqual(
            versions.condition_text(
                [{"human_approval": ["none"]}, {"tool_selection": ["discovers_dynamically"]}]
            ),
            "human approval is none; or tool selection is discovers tools at runtime",
        )

    def test_derived_facts_and_flags_read_as_sentences(self):
        self.assertEqual(
            versions.condition_texts(
                [
                    {"has_write_system": [True]},
                    {"has_admin_system": [False]},
                    {"orchestrated": [False]},
                    {"audit_gap": [True]},
                    {"classification": ["machine_identity"], "traceability": ["partial", "none"]},
                ]
            ),
            [
                "it has a system with write or admin access",
                "it has no system with admin access",
                "it is standalone",
                "the audit gap flag fired",
                "the class is machine identity, and traceability is partial or none",
            ],
        )

    def test_three_values_read_as_a_list(self):
        self.assertEqual(
            versions.term_text("network_reach", ["isolated", "allowlisted", "internet"]),
            "network reach is isolated, allow-listed destinations or internet",
        )

    def test_no_condition_is_no_text(self):
        self.assertEqual(versions.condition_texts(None), [])
        self.assertEqual(versions.condition_text([]), "")

    def test_every_condition_of_the_bundled_catalogue_reads_without_raw_values(self):
        for control in engine.load_catalogue().to_dict()["controls"]:
            for name in ("applies_when", "in_place_when", "gap_when"):
                for text in versions.condition_texts(control[name]):
                    with self.subTest(control=control["id"], text=text):
                        self.assertNotIn("_", text)
                        self.assertNotIn("True", text)


# --------------------------------------------------------------------------- admin: locks


class AdminLockTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = f.administrator()
        cls.v1 = h.current()
        h.submitted_under(cls.v1)
        cls.copy = actions.copy_catalogue_version(cls.admin, cls.v1, new_version="2026.2")

    def setUp(self):
        self.client.force_login(self.admin)

    def rows(self, version):
        return {
            "control": Control.objects.filter(catalogue=version).first(),
            "framework": Framework.objects.filter(catalogue=version).first(),
            "frameworkitem": FrameworkItem.objects.filter(framework__catalogue=version).first(),
            "referencenote": ReferenceNote.objects.filter(catalogue=version).first(),
        }

    def test_rows_of_a_version_used_by_a_submitted_assessment_are_read_only(self):
        for model, obj in self.rows(self.v1).items():
            change = reverse(f"admin:assessments_{model}_change", args=[obj.pk])
            with self.subTest(model=model):
                response = self.client.get(change)
                self.assertEqual(response.status_code, 200)
                self.assertNotContains(response, 'name="_save"')
                self.assertContains(
                    response, "Catalogue 2026.1 is locked: 1 assessment was submitted"
                )
                self.assertContains(response, "Copy as a new version")
                self.assertEqual(self.client.post(change, {}).status_code, 403)
                delete = reverse(f"admin:assessments_{model}_delete", args=[obj.pk])
                self.assertEqual(self.client.post(delete, {"post": "yes"}).status_code, 403)
                self.assertTrue(type(obj).objects.filter(pk=obj.pk).exists())

    def test_mappings_of_a_locked_control_cannot_be_added_changed_or_removed(self):
        control = self.rows(self.v1)["control"]
        response = self.client.get(reverse("admin:assessments_control_change", args=[control.pk]))
        (inline,) = response.context["inline_admin_formsets"]
        self.assertFalse(inline.has_add_permission)
        self.assertFalse(inline.has_change_permission)
        self.assertFalse(inline.has_delete_permission)

    def test_the_rows_of_an_unused_copy_can_be_edited_and_the_edit_is_audited(self):
        control = Control.objects.get(catalogue=self.copy, control_id="AIC-02")
        url = reverse("admin:assessments_control_change", args=[control.pk])
        response = self.client.get(url)
        self.assertContains(response, 'name="_save"')
        self.assertNotContains(response, "is locked")
        form = response.context["adminform"].form
        data = {
            **{k: v for k, v in form.initial.items() if k in form.fields},
            "catalogue": self.copy.pk,
            "title": "Per-task credentials",
            "applies_when": '[{"classification": ["agent_identity"]}]',
            "in_place_when": '[{"credential_model": ["per_task_tokens"]}]',
            "gap_when": '[{"credential_model": ["static_secret", "vaulted_rotated"]}]',
            **_inline_management(response),
        }
        response = self.client.post(url, data)
        self.assertEqual(
            response.status_code,
            302,
            getattr(response, "context", None) and response.context["adminform"].form.errors,
        )
        control.refresh_from_db()
        self.assertEqual(control.title, "Per-task credentials")
        event = AuditEvent.objects.filter(verb="catalogue.edit").latest("id")
        self.assertEqual(
            event.changes,
            {
                "catalogue": "2026.2",
                "fields": {
                    "title": {
                        "old": "Short-lived, task-scoped credentials",
                        "new": "Per-task credentials",
                    }
                },
            },
        )
        # The engine's compiled copy of the version sees the edit.
        built = decisions.engine_catalogue(CatalogueVersion.objects.get(pk=self.copy.pk))
        self.assertEqual(built.control("AIC-02").title, "Per-task credentials")

    def test_a_mapping_to_an_item_of_another_version_is_refused(self):
        control = Control.objects.get(catalogue=self.copy, control_id="AIC-02")
        url = reverse("admin:assessments_control_change", args=[control.pk])
        response = self.client.get(url)
        form = response.context["adminform"].form
        management = _inline_management(response)
        prefix = management.pop("_prefix")
        total = int(management[f"{prefix}-TOTAL_FORMS"])
        foreign = FrameworkItem.objects.get(framework__catalogue=self.v1, item_id="NHI1")
        data = {
            **{k: v for k, v in form.initial.items() if k in form.fields},
            "catalogue": self.copy.pk,
            "applies_when": '[{"classification": ["agent_identity"]}]',
            "in_place_when": "[]",
            "gap_when": "[]",
            **management,
            f"{prefix}-TOTAL_FORMS": str(total + 1),
            f"{prefix}-{total}-item": str(foreign.pk),
            f"{prefix}-{total}-justification": "Wrong version.",
        }
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "belongs to another catalogue version")
        self.assertFalse(ControlMapping.objects.filter(control=control, item=foreign).exists())

    def control_post(self, control: Control, **changes: str):
        url = reverse("admin:assessments_control_change", args=[control.pk])
        response = self.client.get(url)
        management = _inline_management(response)
        management.pop("_prefix")
        data = {
            "catalogue": str(control.catalogue_id),
            "control_id": control.control_id,
            "title": control.title,
            "description": control.description,
            "applies_when": json.dumps(control.applies_when),
            "in_place_when": json.dumps(control.in_place_when),
            "gap_when": json.dumps(control.gap_when),
            "position": str(control.position),
            **management,
            **changes,
        }
        return self.client.post(url, data)

    def test_conditions_the_engine_cannot_apply_are_refused(self):
        control = Control.objects.get(catalogue=self.copy, control_id="AIC-03")
        for field, value, message in [
            (
                "gap_when",
                '[{"favourite_colour": ["blue"]}]',
                "tests unknown fact 'favourite_colour'",
            ),
            (
                "in_place_when",
                '[{"policy_enforcement": ["sometimes"]}]',
                "'sometimes' is not a value",
            ),
            ("applies_when", "[{}]", "each clause must be a non-empty mapping"),
            ("gap_when", '{"policy_enforcement": ["none"]}', "must be a list of clauses"),
        ]:
            with self.subTest(field=field, value=value):
                response = self.control_post(control, **{field: value})
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "The engine cannot apply these conditions")
                self.assertContains(response, message.replace("'", "&#x27;"))
        control.refresh_from_db()
        self.assertEqual(
            control.gap_when, [{"policy_enforcement": ["none", "static_roles", "policy_as_code"]}]
        )
        # The version still compiles for the engine.
        decisions.engine_catalogue(CatalogueVersion.objects.get(pk=self.copy.pk))

    def test_a_valid_condition_edit_is_saved(self):
        control = Control.objects.get(catalogue=self.copy, control_id="AIC-03")
        response = self.control_post(control, gap_when='[{"policy_enforcement": ["none"]}]')
        self.assertEqual(response.status_code, 302)
        control.refresh_from_db()
        self.assertEqual(control.gap_when, [{"policy_enforcement": ["none"]}])

    def test_a_reference_note_may_only_point_at_items_of_its_version(self):
        note = ReferenceNote.objects.filter(catalogue=self.copy).first()
        url = reverse("admin:assessments_referencenote_change", args=[note.pk])
        data = {
            "catalogue": str(self.copy.pk),
            "cited": note.cited,
            "verdict": note.verdict,
            "status": "invalid",
            "position": str(note.position),
        }
        response = self.client.post(url, {**data, "use": '[["csa_maestro", "GOV-2"]]'})
        self.assertContains(response, "csa_maestro GOV-2 is not an item of catalogue 2026.2.")
        response = self.client.post(url, {**data, "use": '["csa_maestro"]'})
        self.assertContains(response, "Give a list of [framework key, item id] pairs")
        response = self.client.post(url, {**data, "use": '[["csa_maestro", "L6"]]'})
        self.assertEqual(response.status_code, 302)
        note.refresh_from_db()
        self.assertEqual(note.use, [["csa_maestro", "L6"]])

    def test_new_rows_can_only_go_into_unlocked_versions(self):
        response = self.client.get(reverse("admin:assessments_control_add"))
        choices = [
            str(label)
            for _, label in response.context["adminform"].form.fields["catalogue"].choices
        ]
        self.assertIn("Catalogue 2026.2", choices)
        self.assertNotIn("Catalogue 2026.1", choices)

    def test_an_item_parent_must_be_in_the_same_framework(self):
        item = FrameworkItem.objects.get(framework__catalogue=self.copy, item_id="GOVERN 1.1")
        elsewhere = FrameworkItem.objects.get(framework__catalogue=self.copy, item_id="A.2")
        url = reverse("admin:assessments_frameworkitem_change", args=[item.pk])
        response = self.client.post(
            url,
            {
                "framework": item.framework_id,
                "item_id": item.item_id,
                "title": item.title,
                "parent": elsewhere.pk,
                "position": item.position,
            },
        )
        self.assertContains(response, "The parent must be an item of the same framework.")
        later = FrameworkItem.objects.get(framework__catalogue=self.copy, item_id="GOVERN 1.7")
        response = self.client.post(
            url,
            {
                "framework": item.framework_id,
                "item_id": item.item_id,
                "title": item.title,
                "parent": later.pk,
                "position": item.position,
            },
        )
        self.assertContains(response, "The parent must come before the item")

    def test_bulk_deletion_is_not_offered(self):
        for model in ("control", "framework", "frameworkitem", "referencenote", "catalogueversion"):
            response = self.client.get(reverse(f"admin:assessments_{model}_changelist"))
            with self.subTest(model=model):
                self.assertNotContains(response, 'value="delete_selected"')

    def test_drafts_alone_do_not_lock_a_version(self):
        author = f.assessor("drafter")
        draft = actions.start_assessment(author, f.agent(slug="draft-only"))
        Assessment.objects.filter(pk=draft.pk).update(catalogue=self.copy)
        self.assertFalse(versions.is_locked(self.copy.pk))
        control = Control.objects.filter(catalogue=self.copy).first()
        response = self.client.get(reverse("admin:assessments_control_change", args=[control.pk]))
        self.assertContains(response, 'name="_save"')

    def test_a_locked_versions_string_and_the_current_flag_are_read_only(self):
        response = self.client.get(
            reverse("admin:assessments_catalogueversion_change", args=[self.v1.pk])
        )
        fields = response.context["adminform"].form.fields
        self.assertNotIn("version", fields)
        self.assertNotIn("is_current", fields)
        self.assertIn("notes", fields)
        response = self.client.get(
            reverse("admin:assessments_catalogueversion_change", args=[self.copy.pk])
        )
        self.assertIn("version", response.context["adminform"].form.fields)
        self.assertNotIn("is_current", response.context["adminform"].form.fields)

    def test_a_version_in_use_or_current_cannot_be_deleted(self):
        for version in (self.v1,):
            url = reverse("admin:assessments_catalogueversion_delete", args=[version.pk])
            self.assertEqual(self.client.post(url, {"post": "yes"}).status_code, 403)
        self.assertTrue(CatalogueVersion.objects.filter(pk=self.v1.pk).exists())


def _inline_management(response) -> dict[str, str]:
    """The mapping inline's management form and existing rows, as a browser posts them."""
    (inline,) = response.context["inline_admin_formsets"]
    formset = inline.formset
    data = {"_prefix": formset.prefix}
    for name in formset.management_form.fields:
        value = formset.management_form[name].value()
        data[f"{formset.prefix}-{name}"] = "" if value is None else str(value)
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None:
                data[form.add_prefix(name)] = str(value)
    return data


# --------------------------------------------------------------------------- admin: actions


class AdminVersionActionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = f.administrator()
        cls.v1 = h.current()

    def setUp(self):
        self.client.force_login(self.admin)

    def act(self, action: str, *versions_: CatalogueVersion, **extra: str):
        data = {
            "action": action,
            helpers.ACTION_CHECKBOX_NAME: [str(v.pk) for v in versions_],
            "select_across": "0",
            **extra,
        }
        if "apply" not in extra:
            data["index"] = "0"
        return self.client.post(
            VERSIONS_ADMIN, data, follow="apply" in extra or action == "make_current"
        )

    def test_copy_asks_for_the_new_version_string_with_a_derived_default(self):
        response = self.act("copy_as_new_version", self.v1)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Copy catalogue 2026.1 as a new version")
        self.assertContains(response, 'value="2026.1-copy-1"')
        self.assertContains(response, "14 controls with 168 mappings")
        self.assertEqual(CatalogueVersion.objects.count(), 1)

    def test_copy_is_a_deep_copy_under_the_new_version_and_is_audited(self):
        response = self.act("copy_as_new_version", self.v1, apply="yes", new_version="2026.2")
        self.assertContains(response, "Copied catalogue 2026.1 as 2026.2")
        copy = CatalogueVersion.objects.get(version="2026.2")
        self.assertFalse(copy.is_current)
        self.assertEqual(
            decisions.catalogue_data(copy),
            {**decisions.catalogue_data(self.v1), "version": "2026.2"},
        )
        # New rows, not shared ones: editing the copy leaves the original alone.
        self.assertFalse(
            set(Control.objects.filter(catalogue=copy).values_list("pk", flat=True))
            & set(Control.objects.filter(catalogue=self.v1).values_list("pk", flat=True))
        )
        self.assertEqual(ControlMapping.objects.filter(control__catalogue=copy).count(), 168)
        self.assertEqual(copy.notes, "Copied from catalogue 2026.1.")
        event = AuditEvent.objects.get(verb="catalogue.copy")
        self.assertEqual(event.actor, self.admin)
        self.assertEqual(event.changes["from"], "2026.1")
        self.assertEqual(event.changes["controls"], 14)

    def test_copy_with_the_derived_name_and_copies_of_copies(self):
        self.act("copy_as_new_version", self.v1, apply="yes", new_version="2026.1-copy-1")
        self.assertEqual(versions.next_copy_version("2026.1"), "2026.1-copy-2")
        first = CatalogueVersion.objects.get(version="2026.1-copy-1")
        self.assertEqual(versions.next_copy_version(first.version), "2026.1-copy-2")
        copy = actions.copy_catalogue_version(self.admin, first)
        self.assertEqual(copy.version, "2026.1-copy-2")

    def test_an_existing_version_string_is_refused(self):
        response = self.act("copy_as_new_version", self.v1, apply="yes", new_version="2026.1")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Catalogue version &#x27;2026.1&#x27; already exists.")
        self.assertEqual(CatalogueVersion.objects.count(), 1)
        self.assertFalse(AuditEvent.objects.filter(verb="catalogue.copy").exists())

    def test_copy_needs_exactly_one_version(self):
        other = actions.copy_catalogue_version(self.admin, self.v1, new_version="2026.2")
        response = self.act("copy_as_new_version", self.v1, other)
        self.assertEqual(response.status_code, 302)
        response = self.client.get(VERSIONS_ADMIN)
        self.assertContains(response, "Select exactly one catalogue version to copy.")
        self.assertEqual(CatalogueVersion.objects.count(), 2)

    def test_make_current_keeps_exactly_one_current_and_is_audited(self):
        author = f.assessor("author")
        started = actions.start_assessment(author, f.agent(slug="before"))
        copy = actions.copy_catalogue_version(self.admin, self.v1, new_version="2026.2")
        response = self.act("make_current", copy)
        self.assertContains(response, "Catalogue 2026.2 is now current")
        self.assertEqual(list(CatalogueVersion.objects.filter(is_current=True)), [copy])
        event = AuditEvent.objects.get(verb="catalogue.make_current")
        self.assertEqual(event.changes, {"current": {"old": "2026.1", "new": "2026.2"}})
        self.assertEqual(event.actor, self.admin)
        # New assessments use the new version; one already started keeps its own.
        later = actions.start_assessment(author, f.agent(slug="after"))
        self.assertEqual(later.catalogue, copy)
        started.refresh_from_db()
        self.assertEqual(started.catalogue, self.v1)

    def test_make_current_from_the_change_form(self):
        copy = actions.copy_catalogue_version(self.admin, self.v1, new_version="2026.2")
        url = reverse("admin:assessments_catalogueversion_change", args=[copy.pk])
        page = self.client.get(url)
        action_field = page.context["action_form"]["action"].html_name
        self.assertContains(page, "Make current")
        self.client.post(
            url,
            {action_field: "make_current", helpers.ACTION_CHECKBOX_NAME: [str(copy.pk)]},
        )
        copy.refresh_from_db()
        self.assertTrue(copy.is_current)

    def test_making_the_current_version_current_again_is_refused(self):
        response = self.act("make_current", self.v1)
        self.assertContains(response, "Catalogue 2026.1 is already the current version.")
        self.assertFalse(AuditEvent.objects.filter(verb="catalogue.make_current").exists())

    def test_an_empty_version_cannot_be_made_current(self):
        empty = CatalogueVersion.objects.create(version="empty")
        response = self.act("make_current", empty)
        self.assertContains(
            response, "Catalogue empty has no controls, so it cannot be made current."
        )
        self.assertTrue(h.current() == self.v1)

    def test_the_changelist_shows_lock_and_use(self):
        h.submitted_under(self.v1)
        actions.copy_catalogue_version(self.admin, self.v1, new_version="2026.2")
        response = self.client.get(VERSIONS_ADMIN)
        rows = {v.version: v for v in response.context["cl"].result_list}
        self.assertEqual(rows["2026.1"].decided_count, 1)
        self.assertEqual(rows["2026.2"].assessment_count, 0)
        self.assertContains(response, "Locked")
        self.assertContains(response, f"{PAGE}?version=2026.2", count=0)  # no stray links
        change = self.client.get(
            reverse("admin:assessments_catalogueversion_change", args=[self.v1.pk])
        )
        self.assertContains(change, f"{PAGE}?version=2026.1")  # "View on site"


# --------------------------------------------------------------------------- load_catalog


class LoadCatalogCommandTests(TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)

    def load(self, *args: str) -> str:
        out = StringIO()
        call_command("load_catalog", *args, stdout=out, stderr=StringIO())
        return out.getvalue()

    def test_the_bundled_version_is_installed_and_is_not_loaded_twice(self):
        self.assertEqual(h.current().version, "2026.1")
        with self.assertRaisesMessage(
            CommandError,
            "Catalogue version '2026.1' already exists. Versions are never overwritten",
        ):
            self.load()
        self.assertEqual(CatalogueVersion.objects.count(), 1)

    def test_a_new_version_is_loaded_beside_the_current_one_and_audited(self):
        path = h.write_catalogue(self.dir, h.bundled_data("2026.2"))
        out = self.load(path)
        self.assertIn(
            "Loaded catalogue 2026.2: 7 frameworks, 181 items, 14 controls, 168 mappings, "
            "2 reference notes. Catalogue 2026.1 stays current",
            out,
        )
        loaded = CatalogueVersion.objects.get(version="2026.2")
        self.assertFalse(loaded.is_current)
        self.assertEqual(
            decisions.catalogue_data(loaded),
            engine.Catalogue.from_dict(h.bundled_data("2026.2")).to_dict(),
        )
        event = AuditEvent.objects.get(verb="catalogue.load")
        self.assertEqual(event.actor_label, "system")
        self.assertEqual(event.changes["source"], path)
        self.assertEqual(event.changes["mappings"], 168)

    def test_make_current_switches_the_current_version(self):
        path = h.write_catalogue(self.dir, h.bundled_data("2026.2"))
        out = self.load(path, "--make-current")
        self.assertIn("It is now the current version", out)
        self.assertEqual(h.current().version, "2026.2")
        self.assertEqual(CatalogueVersion.objects.filter(is_current=True).count(), 1)
        self.assertTrue(AuditEvent.objects.filter(verb="catalogue.make_current").exists())

    def test_dry_run_checks_and_writes_nothing(self):
        path = h.write_catalogue(self.dir, h.bundled_data("2026.2"))
        events = AuditEvent.objects.count()
        out = self.load(path, "--dry-run", "--make-current")
        self.assertIn(f"Dry run: {path} is a valid catalogue 2026.2", out)
        self.assertIn("It would become the current version. Nothing was written.", out)
        self.assertEqual(CatalogueVersion.objects.count(), 1)
        self.assertEqual(AuditEvent.objects.count(), events)

    def test_an_inconsistent_catalogue_is_refused_before_anything_is_written(self):
        data = h.bundled_data("2026.2")
        data["controls"][0]["gap_when"] = [{"favourite_colour": ["blue"]}]
        path = h.write_catalogue(self.dir, data)
        with self.assertRaisesMessage(CommandError, "tests unknown fact 'favourite_colour'"):
            self.load(path)
        data = h.bundled_data("2026.3")
        data["controls"][1]["mappings"][0]["item"] = "ASI99"
        with self.assertRaisesMessage(CommandError, "which the framework does not have"):
            self.load(h.write_catalogue(self.dir, data, "dangling.yaml"))
        self.assertEqual(CatalogueVersion.objects.count(), 1)

    def test_values_the_database_would_truncate_are_refused(self):
        data = h.bundled_data("2026.2")
        data["controls"][0]["mappings"][0]["justification"] = "x" * 501
        with self.assertRaisesMessage(
            CommandError, "Control 'AIC-01' mapping to owasp_asi_top10_2026 ASI03: justification"
        ):
            self.load(h.write_catalogue(self.dir, data))
        data = h.bundled_data("v" * 33)
        with self.assertRaisesMessage(CommandError, "at most 32"):
            self.load(h.write_catalogue(self.dir, data, "long.yaml"))
        self.assertEqual(CatalogueVersion.objects.count(), 1)

    def test_unreadable_files_are_named(self):
        missing = str(self.dir / "absent.yaml")
        with self.assertRaisesMessage(CommandError, f"{missing}: there is no such file."):
            self.load(missing)
        broken = self.dir / "broken.yaml"
        broken.write_text("version: [1\n")
        with self.assertRaisesMessage(CommandError, "is not valid YAML"):
            self.load(str(broken))
        listed = self.dir / "list.yaml"
        listed.write_text("- 1\n- 2\n")
        with self.assertRaisesMessage(CommandError, "must hold a catalogue mapping"):
            self.load(str(listed))

    def test_the_first_catalogue_installed_becomes_current(self):
        CatalogueVersion.objects.all().delete()
        out = self.load()
        self.assertIn("It is now the current version", out)
        self.assertEqual(h.current().version, "2026.1")
