"""Teams scope who acts on which agents (assessments/access/scope.py): the access tables again,
for people in the subject's team and out of it, and what the lists show them.

Every route of tests/test_access.py and every API operation of tests/test_api_access.py
names how it is bound to a team (``KIND``, ``API_KIND``); the expected answer of a person
outside the team follows from the kind, and a person inside it gets exactly what the
unscoped tables say. A new route cannot ship without saying its kind.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.access import scope
from assessments.models import Agent, AuditEvent, BoardPackJob, ReportRecord, Review, Team
from tests import factories as f
from tests.test_access import ACCESS, ROLES, SIGN_IN, AccessTableTests
from tests.test_api_access import API_ACCESS, DRY_RUN, ApiAccessTableTests, expected
from tests.test_api_access import ROLES as API_ROLES

User = get_user_model()
EDITING = {"TEAM_SCOPED_EDITING": True, "TEAM_SCOPED_READING": False}
READING = {"TEAM_SCOPED_EDITING": True, "TEAM_SCOPED_READING": True}

# How each route is bound to a team:
#   none    not about one agent (lists are narrowed instead: see the tests below)
#   read    reads one agent or what is about it
#   edit    changes an agent, its assessment or its evidence (assessors, in team)
#   decide  approves, returns or assigns for one agent (reviewers, in team)
#   bulk    decides for several (refused whole when one is out of team)
#   pack    a board pack, which covers a team (or every team)
#   signoff a board's sign-off of a pack of a team (reviewers, in team, as they decide)
#   owner   an owner's own item (access certification): ownership, not the team, grants
#           it; to others, with reading scoped, it does not exist
#   estate  discovery: identities of whole accounts and clusters, no team's; with reading
#           scoped only administrators reach it
KIND: dict[str, str] = {
    **dict.fromkeys(
        [
            "login",
            "logout",
            "scim",
            "password_change",
            "password_change_done",
            "favicon",
            "account_login",
            "account_logout",
            "account_change_password",
            "account_inactive",
            "account_reauthenticate",
            "waiting_for_access",
            "mfa_index",
            "mfa_list_webauthn",
            "mfa_activate_totp",
            "mfa_add_webauthn",
            "mfa_generate_recovery_codes",
            "mfa_edit_webauthn",
            "mfa_remove_webauthn",
            "mfa_reauthenticate",
            "mfa_reauthenticate_webauthn",
            "mfa_deactivate_totp",
            "mfa_view_recovery_codes",
            "mfa_download_recovery_codes",
            "mfa_authenticate",
            "openid_connect_login",
            "openid_connect_callback",
            "socialaccount_login_cancelled",
            "socialaccount_login_error",
            "socialaccount_signup",
            "assessments:dashboard",
            "assessments:figures",
            "assessments:figures_status",
            "assessments:agent_list",
            "assessments:agent_lookup",
            "assessments:agent_create",
            "assessments:agent_import",
            "assessments:agent_form_row",
            "assessments:audit_list",
            "assessments:queue",
            "assessments:calendar_feeds",
            "assessments:calendar_feed_revoke",
            "assessments:calendar_feed",
            "assessments:reports",
            "assessments:report_verify",
            "assessments:export_inventory",
            "assessments:export_assessments",
            "assessments:notification_list",
            "assessments:notification_mark_all_read",
            "assessments:notification_preferences",
            "assessments:api_tokens",
            "assessments:api_token_revoke",
            "assessments:service_account_create",
            "assessments:catalogue",
            "assessments:certification_list",
            "assessments:certification_start",
            "assessments:certification_mine",
            "admin:index",
        ],
        "none",
    ),
    **dict.fromkeys(
        [
            "assessments:agent_detail",
            "assessments:assessment_detail",
            "assessments:assessment_compare",
            "assessments:assessment_report",
            "assessments:assessment_oscal",
            "assessments:evidence_detail",
            "assessments:evidence_job",
            "assessments:certification_campaign",
            "assessments:certification_results_pdf",
            "assessments:certification_results_csv",
        ],
        "read",
    ),
    **dict.fromkeys(
        [
            "assessments:agent_edit",
            "assessments:agent_retire",
            "assessments:agent_reactivate",
            "assessments:agent_ownership",
            "assessments:agent_take_on",
            "assessments:agent_activity",
            "assessments:agent_decommission",
            "assessments:assessment_start",
            "assessments:wizard",
            "assessments:wizard_step",
            "assessments:wizard_review",
            "assessments:assessment_withdraw",
            "assessments:wizard_answer",
            "assessments:planned_change_landed",
            "assessments:evidence_add",
            "assessments:proposal_decide",
        ],
        "edit",
    ),
    "assessments:assessment_decide": "decide",
    "assessments:queue_bulk_assign": "bulk",
    "assessments:board_pack_request": "pack",
    "assessments:board_pack_status": "pack",
    "assessments:board_pack_download": "pack",
    "assessments:board_pack_register": "pack",
    "assessments:board_pack_signoff": "signoff",
    **dict.fromkeys(
        [
            "assessments:discovery",
            "assessments:discovery_run",
            "assessments:discovery_identity",
            "assessments:discovery_triage",
            "assessments:discovery_bulk_triage",
        ],
        "estate",
    ),
    "assessments:board_pack_oscal": "pack",
    "assessments:oscal_poam": "poam",
    "assessments:certification_attest": "owner",
}


def estate(kind: str, role: str, want: Any, reading: bool) -> Any:
    """Discovery with reading scoped: administrators only, team members or not."""
    if kind != "estate" or not reading or role in ("anonymous", "outsider", "administrator"):
        return want
    return want if want in (403, SIGN_IN) else 403


def out_of_team(name: str, kind: str, role: str, in_team: Any, reading: bool) -> Any:
    """What someone outside the subject's team gets, from what a member gets."""
    if role in ("anonymous", "outsider", "administrator") or kind in ("none", "estate"):
        return in_team
    if kind == "owner":  # the owner keeps it; to anyone else out of team it does not exist
        return 404 if reading and in_team == 403 else in_team
    if in_team in (403, SIGN_IN):  # their role is refused already
        return in_team
    if kind == "read":
        return 404 if reading else in_team
    if kind in ("edit", "decide", "signoff"):
        return 404 if reading else 403  # not theirs to read at all, or only to read
    if kind == "bulk":
        return 403
    if kind == "pack":  # the fixture's pack covers the subject's team
        if not reading:
            return in_team
        return 422 if name == "assessments:board_pack_request" else 404
    if kind == "poam":  # their own team's plan, which has no gap: told so on the page
        return 302 if reading else in_team
    raise AssertionError(f"unknown kind {kind}")


class TeamAccessTableTests(AccessTableTests):
    """Every route × role × in team / out of team, with editing and with reading scoped."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.home = Team.objects.get(slug="platform")  # every fixture agent's team
        cls.away = f.team("Elsewhere")
        BoardPackJob.objects.filter(pk=cls.objs["board_pack"].pk).update(
            params={"team": cls.home.slug}
        )
        ReportRecord.objects.filter(pk=cls.objs["board_record"].pk).update(
            params={"team": cls.home.slug}
        )

    # The inherited tests run once, in AccessTableTests.
    test_every_route_answers_each_role_as_the_table_says = None
    test_a_refused_request_changes_nothing_and_is_audited = None

    def test_every_route_says_how_it_is_bound_to_a_team(self):
        self.assertEqual(sorted(set(ACCESS) - set(KIND)), [], "Add these routes to KIND")
        self.assertEqual(sorted(set(KIND) - set(ACCESS)), [], "These KIND entries are stale")

    def _join(self, team: Team) -> None:
        for user in self.users.values():
            user.teams.set([team])
            scope.forget(user)

    def _check(self, settings: dict[str, bool], member: bool) -> None:
        self._join(self.home if member else self.away)
        reading = settings["TEAM_SCOPED_READING"]
        for name, route in ACCESS.items():
            url = reverse(name, args=route.args(self.objs))
            for role in ROLES:
                data = route.data(self.objs)  # afresh: an uploaded file is read once
                if name == "assessments:board_pack_request":
                    data = {**data, "team": self.home.slug}
                want = estate(KIND[name], role, route.expected[role], reading)
                if not member:
                    want = out_of_team(name, KIND[name], role, want, reading)
                label = "in team" if member else "out of team"
                with (
                    self.subTest(route=name, role=role, member=label, **settings),
                    self.settings(**settings),
                    transaction.atomic(),
                ):
                    self.client.logout()
                    if role != "anonymous":
                        self.client.force_login(self.users[role])
                    send = getattr(self.client, route.method)
                    response = send(url, route.query if route.method == "get" else data)
                    if want == SIGN_IN:
                        self.assertEqual(response.status_code, 302)
                        self.assertTrue(response["Location"].startswith(reverse("login")))
                    else:
                        self.assertEqual(response.status_code, want)
                    transaction.set_rollback(True)

    def test_members_of_the_team_get_what_the_table_says_with_editing_scoped(self):
        self._check(EDITING, member=True)

    def test_people_of_another_team_read_but_do_not_edit_or_decide(self):
        self._check(EDITING, member=False)

    def test_members_of_the_team_get_what_the_table_says_with_reading_scoped(self):
        self._check(READING, member=True)

    def test_with_reading_scoped_another_teams_agents_do_not_exist(self):
        self._check(READING, member=False)

    def test_a_refusal_out_of_team_says_why_and_is_audited(self):
        self._join(self.away)
        self.client.force_login(self.users["assessor"])
        with self.settings(**EDITING):
            response = self.client.get(reverse("assessments:agent_edit", args=["subject"]))
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "You edit only agents of your teams", status_code=403)
        self.assertContains(response, "belongs to the team Platform", status_code=403)
        event = AuditEvent.objects.filter(verb="access.forbidden").latest("id")
        self.assertEqual(event.actor, self.users["assessor"])


API_KIND: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/agents"): "none",
    ("POST", "/api/v1/agents"): "create",
    ("GET", "/api/v1/agents/{slug}"): "read",
    ("PATCH", "/api/v1/agents/{slug}"): "edit",
    ("POST", "/api/v1/agents/{slug}/retire"): "edit",
    ("POST", "/api/v1/agents/{slug}/evidence"): "edit",
    ("POST", "/api/v1/agents/{slug}/evidence/files"): "edit",
    ("GET", "/api/v1/agents/{slug}/evidence/jobs/{job_id}"): "read",
    ("POST", "/api/v1/agents/{slug}/reactivate"): "edit",
    ("GET", "/api/v1/assessments"): "none",
    ("GET", "/api/v1/agents/{slug}/assessments/{number}"): "read",
    ("POST", "/api/v1/agents/{slug}/assessments"): "edit",
    ("PATCH", "/api/v1/agents/{slug}/assessments/{number}/answers"): "edit",
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/submit"): "edit",
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/withdraw"): "edit",
    ("POST", "/api/v1/agents/{slug}/decommission"): "edit",
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/approve"): "edit",
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/return"): "edit",
    ("POST", "/api/v1/manifests"): "create",
    ("GET", "/api/v1/queue"): "none",
    ("POST", "/api/v1/queue/{review_id}/assign"): "edit",
    ("GET", "/api/v1/agents/{slug}/assessments/{number}/report.pdf"): "read",
    ("POST", "/api/v1/board-packs"): "pack_request",
    ("GET", "/api/v1/board-packs/{job_id}"): "read",
    ("GET", "/api/v1/board-packs/{job_id}/pdf"): "read",
    ("POST", "/api/v1/board-packs/{job_id}/sign-off"): "edit",
    ("GET", "/api/v1/agents/{slug}/assessments/{number}/oscal-results.json"): "read",
    ("GET", "/api/v1/board-packs/{job_id}/oscal-results.json"): "read",
    ("GET", "/api/v1/exports/oscal-poam.json"): "poam",
    ("GET", "/api/v1/exports/inventory.csv"): "none",
    ("GET", "/api/v1/exports/assessments.csv"): "none",
    ("GET", "/api/v1/audit-events"): "none",
    ("GET", "/api/v1/catalogue"): "none",
    ("GET", "/api/v1/certification/campaigns"): "none",
    ("POST", "/api/v1/certification/campaigns"): "create",
    ("GET", "/api/v1/certification/campaigns/{campaign_id}"): "read",
    ("GET", "/api/v1/certification/campaigns/{campaign_id}/items"): "read",
    ("POST", "/api/v1/certification/items/{item_id}/attest"): "owner",
    **dict.fromkeys(
        [
            ("POST", "/api/v1/discovery/runs"),
            ("GET", "/api/v1/discovery/runs"),
            ("GET", "/api/v1/discovery/runs/{run_id}"),
            ("GET", "/api/v1/discovery/identities"),
            ("GET", "/api/v1/discovery/identities/{identity_id}"),
            ("POST", "/api/v1/discovery/identities/{identity_id}/triage"),
            ("POST", "/api/v1/discovery/triage"),
            ("GET", "/api/v1/discovery/figures"),
        ],
        "estate",
    ),
}


def api_out_of_team(kind: str, role: str, in_team: int, reading: bool) -> int:
    if role in ("outsider", "administrator") or kind in ("none", "estate") or in_team >= 400:
        return in_team
    if kind == "read":
        return 404 if reading else in_team
    if kind == "owner":  # an owner's own item: ownership, not the team, grants it
        return in_team
    if kind == "edit":
        return 404 if reading else 403
    if kind == "create":  # a new agent in a team that is not theirs
        return 403
    if kind == "pack_request":  # a pack of a team that is not theirs to read
        return 422 if reading else in_team
    if kind == "poam":  # their own team's plan, which has no gap
        return 409 if reading else in_team
    raise AssertionError(f"unknown kind {kind}")


class ApiTeamAccessTests(ApiAccessTableTests):
    """Every API operation × role × in team / out of team (session and an all-scopes
    token: the scopes themselves are the unscoped table's business)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.home = Team.objects.get(slug="platform")
        cls.away = f.team("Elsewhere")
        BoardPackJob.objects.filter(pk=cls.objs["board_pack"].pk).update(
            params={"team": cls.home.slug}
        )
        ReportRecord.objects.filter(pk=cls.objs["board_record"].pk).update(
            params={"team": cls.home.slug}
        )

    test_every_operation_answers_every_role_and_scope_as_the_table_says = None
    test_a_dry_run_needs_only_read = None
    test_a_refused_call_is_audited_with_its_caller = None

    def test_every_operation_says_how_it_is_bound_to_a_team(self):
        self.assertEqual(sorted(set(API_ACCESS) - set(API_KIND)), [], "Add these to API_KIND")
        self.assertEqual(sorted(set(API_KIND) - set(API_ACCESS)), [], "Stale API_KIND entries")

    def _check(self, settings: dict[str, bool], member: bool) -> None:
        for user in self.users.values():
            user.teams.set([self.home if member else self.away])
        # The reviewer the queue's assignment names is always a member of the subject's team.
        User.objects.get(username="approver").teams.set([self.home])
        reading = settings["TEAM_SCOPED_READING"]
        operations = [*API_ACCESS.items(), (("POST", "dry run"), DRY_RUN)]
        for key, op in operations:
            # A dry run of a new agent reads nothing of any team.
            kind = "none" if key[1] == "dry run" else API_KIND[key]
            if key == ("POST", "/api/v1/board-packs"):
                op = type(op)(**{**op.__dict__, "body": lambda o: {"team": "platform"}})
            for role in API_ROLES:
                for auth in ("all", "session"):
                    want = expected(op, role, auth)
                    if kind == "estate" and reading and role != "administrator" and want < 400:
                        want = 403  # discovery: administrators only with reading scoped
                    if not member:
                        want = api_out_of_team(kind, role, want, reading)
                    with (
                        self.subTest(operation=key, role=role, auth=auth, member=member),
                        self.settings(**settings),
                        transaction.atomic(),
                    ):
                        response = self.call(key[0], op, auth, role)
                        self.assertEqual(
                            response.status_code,
                            want,
                            b"" if response.streaming else response.content[:300],
                        )
                        transaction.set_rollback(True)

    def test_members_get_what_the_table_says(self):
        self._check(EDITING, member=True)
        self._check(READING, member=True)

    def test_people_of_another_team_are_refused_or_find_nothing(self):
        self._check(EDITING, member=False)
        self._check(READING, member=False)


class TeamScopedListsTests(TestCase):
    """What people see of other teams: everything with editing scoped, nothing with
    reading scoped; and what they may do from the lists."""

    @classmethod
    def setUpTestData(cls):
        cls.home = f.team("Payments")
        cls.away = f.team("Research")
        cls.author = f.assessor("author")
        cls.boss = f.reviewer("boss")
        cls.ours = f.agent(slug="ours", team=cls.home)
        cls.theirs = f.agent(slug="theirs", team=cls.away)
        f.approved(cls.ours, cls.author, cls.boss)
        f.approved(cls.theirs, cls.author, cls.boss)
        cls.viewer = f.viewer()
        cls.assessor = f.assessor()
        cls.reviewer = f.reviewer()
        cls.admin = f.administrator()
        for person in (cls.viewer, cls.assessor, cls.reviewer):
            person.teams.set([cls.home])
        cls.waiting = actions.submit_assessment(
            cls.author, f.answered(f.agent(slug="their-new", team=cls.away), cls.author)
        )

    def slugs(self, url: str, user: Any, **query: str) -> set[str]:
        self.client.force_login(user)
        response = self.client.get(url, query)
        self.assertEqual(response.status_code, 200)
        text = response.content.decode()
        return {s for s in ("ours", "theirs", "their-new") if f"/agents/{s}/" in text}

    def test_with_editing_scoped_everyone_still_reads_every_team(self):
        with self.settings(**EDITING):
            for user in (self.viewer, self.assessor, self.reviewer):
                with self.subTest(user=user.username):
                    listed = self.slugs(reverse("assessments:agent_list"), user)
                    self.assertEqual(listed, {"ours", "theirs", "their-new"})

    def test_with_reading_scoped_lists_and_search_hold_only_their_teams(self):
        with self.settings(**READING):
            for user in (self.viewer, self.assessor, self.reviewer):
                with self.subTest(user=user.username):
                    self.assertEqual(self.slugs(reverse("assessments:agent_list"), user), {"ours"})
                    found = self.slugs(reverse("assessments:agent_lookup"), user, q="")
                    self.assertEqual(found, set())  # the datalist shows slugs, not links
                    self.client.force_login(user)
                    options = self.client.get(reverse("assessments:agent_lookup"), {"q": "t"})
                    self.assertNotContains(options, "theirs")
            self.assertEqual(
                self.slugs(reverse("assessments:agent_list"), self.admin),
                {"ours", "theirs", "their-new"},
            )

    def test_with_reading_scoped_the_queue_and_its_counts_are_their_teams(self):
        Review.objects.filter(agent=self.theirs).update(due_on="2000-01-01")
        with self.settings(**READING):
            self.client.force_login(self.reviewer)
            response = self.client.get(reverse("assessments:queue"))
        self.assertNotContains(response, "/agents/theirs/")
        self.assertEqual(response.context["counts"]["overdue"], 0)
        with self.settings(**EDITING):
            response = self.client.get(reverse("assessments:queue"))
        self.assertContains(response, "/agents/theirs/")
        self.assertEqual(response.context["counts"]["overdue"], 1)
        # ...but no assignment form or box on another team's row
        row = response.content.decode().split('id="review-')
        theirs = next(part for part in row if "/agents/theirs/" in part.split("</tr>")[0])
        self.assertNotIn('name="assignee"', theirs.split("</tr>")[0])
        self.assertNotIn('name="review"', theirs.split("</tr>")[0])
        # and another team's submitted reassessment is there to view, not to decide
        actions.submit_assessment(self.author, f.answered(self.theirs, self.author))
        with self.settings(**EDITING):
            page = self.client.get(reverse("assessments:queue")).content.decode()
        theirs = next(
            p for p in page.split('id="review-') if "/agents/theirs/" in p.split("</tr>")[0]
        )
        self.assertIn("View v2", theirs.split("</tr>")[0])
        self.assertNotIn("Decide v2", theirs.split("</tr>")[0])
        page = self.client.get(reverse("assessments:queue")).content.decode()  # unscoped
        theirs = next(
            p for p in page.split('id="review-') if "/agents/theirs/" in p.split("</tr>")[0]
        )
        self.assertIn("Decide v2", theirs.split("</tr>")[0])

    def test_with_reading_scoped_the_dashboard_counts_their_teams(self):
        with self.settings(**READING):
            self.client.force_login(self.viewer)
            response = self.client.get(reverse("assessments:dashboard"))
            self.assertEqual(response.context["matrix"].total, 1)
            self.assertContains(response, "Figures for your team only: Payments")
            self.client.force_login(self.admin)
            response = self.client.get(reverse("assessments:dashboard"))
            self.assertEqual(response.context["matrix"].total, 3)
            self.assertIsNone(response.context["scoped_teams"])

    def test_with_reading_scoped_exports_hold_their_teams(self):
        with self.settings(**READING):
            self.client.force_login(self.viewer)
            for name in ("assessments:export_inventory", "assessments:export_assessments"):
                with self.subTest(export=name):
                    response = self.client.get(reverse(name))
                    body = b"".join(response.streaming_content).decode()
                    rows = list(csv.reader(io.StringIO(body)))[1:]
                    self.assertEqual({row[0] for row in rows}, {"ours"})

    def test_with_reading_scoped_the_api_lists_their_teams(self):
        with self.settings(**READING):
            self.client.force_login(self.viewer)
            agents = self.client.get("/api/v1/agents").json()
            self.assertEqual([a["slug"] for a in agents["results"]], ["ours"])
            listed = self.client.get("/api/v1/assessments").json()
            self.assertEqual({a["agent"] for a in listed["results"]}, {"ours"})

    def test_with_reading_scoped_the_audit_log_holds_their_teams(self):
        with self.settings(**READING):
            self.client.force_login(self.reviewer)
            response = self.client.get(reverse("assessments:audit_list"))
            agents = {e.agent.slug for e in response.context["page"].object_list if e.agent}
            self.assertEqual(agents, {"ours"})
            events = self.client.get("/api/v1/audit-events").json()["events"]
            self.assertTrue(events)
            self.assertFalse(any("theirs" in json.dumps(e) for e in events))

    def test_with_reading_scoped_form_choices_and_filters_hold_their_teams(self):
        from assessments.forms.reviews import FeedForm, QueueFilterForm

        with self.settings(**READING):
            self.client.force_login(self.reviewer)
            queue = self.client.get(reverse("assessments:queue"))
            self.assertEqual(queue.status_code, 200)
            form = QueueFilterForm({}, reviewers=[], user=self.reviewer)
            self.assertEqual(list(form.fields["team"].queryset), [self.home])
            feed = FeedForm(user=self.reviewer)
            self.assertEqual(list(feed.fields["team"].queryset), [self.home])
            page = self.client.get(reverse("assessments:calendar_feeds")).content.decode()
            self.assertNotIn("Research", page)
            self.assertNotIn(">Research<", queue.content.decode())

    def test_with_reading_scoped_the_inventory_csv_names_no_other_teams_agent(self):
        actions.update_agent(
            self.admin, self.ours, fields={}, links=[{"kind": "orchestrates", "other": "theirs"}]
        )
        with self.settings(**READING):
            self.client.force_login(self.viewer)
            response = self.client.get(reverse("assessments:export_inventory"))
            body = b"".join(response.streaming_content).decode()
        self.assertNotIn("theirs", body)
        response = self.client.get(reverse("assessments:export_inventory"))
        self.assertIn("orchestrates theirs", b"".join(response.streaming_content).decode())

    def test_with_editing_scoped_the_awaiting_list_is_what_the_badge_counts(self):
        with self.settings(**EDITING):
            listed = self.slugs(
                reverse("assessments:agent_list"), self.reviewer, assessment="pending_decision"
            )
            self.assertEqual(listed, set())
            self.assertEqual(
                self.slugs(
                    reverse("assessments:agent_list"), self.admin, assessment="pending_decision"
                ),
                {"their-new"},
            )

    def test_reviewers_are_told_awaiting_decisions_of_their_teams_only(self):
        self.client.force_login(self.reviewer)
        response = self.client.get(reverse("assessments:dashboard"))
        self.assertEqual(response.context["inbox"]["awaiting"], 1)
        with self.settings(**EDITING):
            response = self.client.get(reverse("assessments:dashboard"))
            self.assertEqual(response.context["inbox"]["awaiting"], 0)
            tray = next(t for t in response.context["inbox_trays"] if t.key == "pending_decision")
            self.assertEqual(tray.total, 0)
            page = self.client.get(self.waiting.get_absolute_url())
            self.assertContains(page, "You review only for your teams; Agent")
            self.assertNotContains(page, 'name="decision"')

    def test_an_agent_is_created_only_in_ones_own_team(self):
        self.client.force_login(self.assessor)
        data = {
            "name": "Bot",
            "slug": "bot",
            "purpose": "p",
            "owner": self.assessor.pk,
            "team": self.away.pk,
            "systems-TOTAL_FORMS": "0",
            "systems-INITIAL_FORMS": "0",
            "links-TOTAL_FORMS": "0",
            "links-INITIAL_FORMS": "0",
        }
        with self.settings(**EDITING):
            form = self.client.get(reverse("assessments:agent_create")).context["form"]
            self.assertEqual(list(form.fields["team"].queryset), [self.home])
            self.assertEqual(form.fields["team"].initial, self.home.pk)  # their one team
            response = self.client.post(reverse("assessments:agent_create"), data)
            self.assertEqual(response.status_code, 422)
            self.assertContains(response, "Choose one of your teams", status_code=422)
            response = self.client.post(
                reverse("assessments:agent_create"), {**data, "team": self.home.pk}
            )
            self.assertEqual(response.status_code, 302)
        # and without scoping, any team
        response = self.client.post(
            reverse("assessments:agent_create"), {**data, "slug": "bot-2", "team": self.away.pk}
        )
        self.assertEqual(response.status_code, 302)

    def test_the_actions_refuse_out_of_team_work_whatever_the_path(self):
        with self.settings(**EDITING):
            with self.assertRaises(PermissionDenied):
                actions.update_agent(self.assessor, self.theirs, fields={"platform": "x"})
            with self.assertRaises(PermissionDenied):  # nor give one's agent away
                actions.update_agent(self.assessor, self.ours, fields={"team": self.away})
            with self.assertRaises(PermissionDenied):
                actions.start_assessment(self.assessor, self.theirs)
            with self.assertRaises(PermissionDenied):
                actions.approve_assessment(self.reviewer, self.waiting)
            review = Review.objects.open().get(agent=self.theirs)
            with self.assertRaises(PermissionDenied):
                actions.assign_reviews(self.reviewer, [review.pk], self.reviewer)
            ours_review = Review.objects.open().get(agent=self.ours)
            with self.assertRaisesMessage(actions.ActionError, "is not in the team Payments"):
                actions.assign_reviews(self.admin, [ours_review.pk], self.boss)
            # administrators act for every team; the system (no actor) too
            actions.update_agent(self.admin, self.theirs, fields={"platform": "x"})
            scope.check_actor_edit(None, self.theirs)

    def test_a_csv_import_refuses_rows_of_other_teams(self):
        header = "slug,name,team,purpose,owner\n"
        body = (
            header + "theirs,Theirs,Research,p,author\nnew-one,New,Research,p,author\n"
        ).encode()
        from assessments.interchange import imports

        with self.settings(**EDITING):
            plan = imports.plan_csv(body, self.assessor)
            errors = [e for row in plan.rows for e in row.errors]
            self.assertIn("Team: theirs belongs to Research, not one of your teams.", errors)
            self.assertIn(
                "Team: Research is not one of your teams; you import only into yours.", errors
            )
            plan = imports.plan_csv(body, self.admin)
            self.assertFalse([e for row in plan.rows for e in row.errors])


class TeamScopedLinksTests(TestCase):
    """Issue 23, item 3: a link is an edit of both ends, and with reading scoped another
    team's agent is "not found" exactly as a slug nobody has."""

    @classmethod
    def setUpTestData(cls):
        cls.home, cls.away = f.team("Payments"), f.team("Research")
        cls.ours = f.agent(slug="ours", name="Our bot", team=cls.home)
        cls.theirs = f.agent(slug="theirs", name="Secret project", team=cls.away)
        cls.assessor = f.assessor()
        cls.assessor.teams.set([cls.home])

    def patch_links(self, links):
        from tests.api_helpers import ApiClient, token_for

        self.ours.refresh_from_db()
        api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))
        return api.patch("/agents/ours", {"lock_version": self.ours.lock_version, "links": links})

    def test_with_editing_scoped_a_link_to_another_teams_agent_is_refused(self):
        with self.settings(**EDITING):
            response = self.patch_links([{"kind": "orchestrates", "other": "theirs"}])
            self.assertEqual(response.status_code, 422, response.content)
            self.assertIn("a link changes both agents", response.json()["detail"])
            with self.assertRaisesMessage(actions.ActionError, "a link changes both agents"):
                actions.update_agent(
                    self.assessor, self.ours, fields={}, links=[{"kind": "peer", "other": "theirs"}]
                )
        self.assertFalse(self.theirs.links_in.exists() or self.theirs.links_out.exists())
        self.assertEqual(Review.objects.open().filter(agent=self.theirs).count(), 0)
        # Nor is an existing link to it removed by someone who may not edit it.
        actions.update_agent(
            self.assessor, self.ours, fields={}, links=[{"kind": "peer", "other": "theirs"}]
        )
        with (
            self.settings(**EDITING),
            self.assertRaisesMessage(actions.ActionError, "a link changes both agents"),
        ):
            actions.update_agent(self.assessor, self.ours, fields={}, links=[])

    def test_with_reading_scoped_an_existing_and_a_missing_slug_read_the_same(self):
        with self.settings(**READING):
            existing = self.patch_links([{"kind": "orchestrates", "other": "theirs"}])
            missing = self.patch_links([{"kind": "orchestrates", "other": "nobody-has-this"}])
        self.assertEqual(existing.status_code, missing.status_code)
        self.assertEqual(existing.status_code, 422)
        said = [e["message"] for e in existing.json()["errors"]]
        self.assertEqual(said, ["No agent has the slug “theirs”."])
        self.assertEqual(
            [e["message"] for e in missing.json()["errors"]],
            ["No agent has the slug “nobody-has-this”."],
        )
        self.assertNotIn("Secret project", existing.content.decode())
        self.assertNotIn("Research", existing.content.decode())

    def test_with_reading_scoped_a_manifest_for_another_teams_slug_names_nothing(self):
        from tests.api_helpers import ApiClient, token_for

        api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))
        manifest = {
            "agent": {"name": "X", "slug": "theirs", "owner": "ada", "description": "d"},
            "answers": {"decision_mode": "fixed_script"},
        }
        with self.settings(**READING):
            response = api.post("/manifests", manifest, dry_run="true")
        self.assertEqual(response.status_code, 403)
        body = response.content.decode()
        self.assertNotIn("Secret project", body)
        self.assertNotIn("Research", body)


class TeamMembershipTests(TestCase):
    """Membership is managed by administrators in the admin and comes from the directory's
    group claim at sign-in (tests/test_sso.py); every change is an audit event."""

    def test_an_administrator_adds_a_member_on_the_team_page(self):
        team = f.team("Payments")
        ada = f.assessor()
        self.client.force_login(f.administrator())
        response = self.client.post(
            reverse("admin:assessments_team_change", args=[team.pk]),
            {"name": team.name, "slug": team.slug, "members": [ada.pk]},
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(list(ada.teams.all()), [team])
        event = AuditEvent.objects.filter(verb="account.teams_added").latest("id")
        self.assertEqual(event.changes, {"teams": ["Payments"]})
        self.assertEqual(event.object_repr, ada.username)

    def test_people_of_no_team_are_told_why_they_cannot_register_agents(self):
        self.client.force_login(f.assessor())
        with self.settings(**EDITING):
            response = self.client.get(reverse("assessments:agent_create"))
        self.assertContains(response, "You belong to no team yet")


class TeamScopedNotificationTests(TestCase):
    def test_a_submission_is_announced_to_those_who_may_decide_it(self):
        from assessments.actions.notifications import submitted_recipients

        home, away = f.team("Payments"), f.team("Research")
        author = f.assessor("author")
        theirs = f.reviewer("theirs")
        theirs.teams.set([away])
        admin = f.administrator()
        waiting = actions.submit_assessment(
            author, f.answered(f.agent(slug="ours", team=home), author)
        )
        # Payments has no reviewer: everyone who may decide, which with scoping is the
        # administrators only (the Research reviewer could not decide it).
        self.assertEqual(set(submitted_recipients(waiting)), {theirs, admin})
        with self.settings(**EDITING):
            self.assertEqual(submitted_recipients(waiting), [admin])
            ours = f.reviewer("ours-reviewer")
            ours.teams.set([home])
            self.assertEqual(submitted_recipients(waiting), [ours])


class DemoTeamsTests(TestCase):
    def test_the_demo_people_belong_to_teams_so_scoping_can_be_tried(self):
        from django.core.management import call_command

        from assessments.models import Agent

        with self.settings(**READING):  # loading the demo is nobody's request
            call_command("load_demo", stdout=io.StringIO())
        assessor = User.objects.get(username="assessor")
        self.assertEqual(
            sorted(assessor.teams.values_list("slug", flat=True)),
            ["customer-support", "finance-platform", "platform-engineering"],
        )
        research = Agent.objects.filter(team__slug="research-insights").first()
        finance = Agent.objects.filter(team__slug="finance-platform").first()
        self.client.force_login(assessor)
        with self.settings(**EDITING):
            self.assertEqual(self.client.get(f"/agents/{research.slug}/edit/").status_code, 403)
            self.assertEqual(self.client.get(f"/agents/{finance.slug}/edit/").status_code, 200)


class AuditedAdminTests(TestCase):
    """Teams and review intervals changed in the admin leave audit events."""

    def setUp(self):
        self.admin = f.administrator()
        self.client.force_login(self.admin)

    def test_a_team_created_renamed_and_deleted_is_audited(self):
        response = self.client.post(
            reverse("admin:assessments_team_add"), {"name": "Payments", "slug": "payments"}
        )
        self.assertEqual(response.status_code, 302)
        team = Team.objects.get(slug="payments")
        created = AuditEvent.objects.get(verb="team.create")
        self.assertEqual(created.changes["name"], {"old": None, "new": "Payments"})
        self.assertEqual(created.actor, self.admin)
        self.client.post(
            reverse("admin:assessments_team_change", args=[team.pk]),
            {"name": "Payments & Billing", "slug": "payments"},
        )
        changed = AuditEvent.objects.get(verb="team.change")
        self.assertEqual(
            changed.changes, {"name": {"old": "Payments", "new": "Payments & Billing"}}
        )
        # saving again unchanged writes nothing
        self.client.post(
            reverse("admin:assessments_team_change", args=[team.pk]),
            {"name": "Payments & Billing", "slug": "payments"},
        )
        self.assertEqual(AuditEvent.objects.filter(verb="team.change").count(), 1)
        # Administrators may not delete teams; a superuser may.
        root = User.objects.create_superuser("super-root", "super@example.com", "x" * 20)
        self.client.force_login(root)
        self.client.post(reverse("admin:assessments_team_delete", args=[team.pk]), {"post": "yes"})
        deleted = AuditEvent.objects.get(verb="team.delete")
        self.assertEqual(deleted.changes["deleted"]["slug"], {"old": "payments", "new": None})
        self.assertFalse(Team.objects.filter(pk=team.pk).exists())

    def test_a_review_interval_change_is_audited(self):
        from assessments.models import ReviewInterval

        self.client.post(reverse("admin:assessments_reviewinterval_add"), {"tier": 4, "days": 14})
        interval = ReviewInterval.objects.get(tier=4)
        self.client.post(
            reverse("admin:assessments_reviewinterval_change", args=[interval.pk]),
            {"tier": 4, "days": 21},
        )
        event = AuditEvent.objects.get(verb="reviewinterval.change")
        self.assertEqual(event.changes, {"days": {"old": 14, "new": 21}})
        self.client.post(
            reverse("admin:assessments_reviewinterval_changelist"),
            {"action": "delete_selected", "_selected_action": [interval.pk], "post": "yes"},
        )
        self.assertEqual(AuditEvent.objects.filter(verb="reviewinterval.delete").count(), 1)
        self.assertFalse(ReviewInterval.objects.exists())


# Issue 23, item 3: every surface of an agent linked to another team's agent, with what
# a reader of the linking agent must not find there when reading is scoped (and does
# find when it is not: the table would pass vacuously otherwise).
FOREIGN_SURFACES: dict[str, str] = {
    "agent page": "/agents/ours/",
    "agent edit form": "/agents/ours/edit/",
    "wizard live panel": "/agents/ours/assessments/{draft}/wizard/review/",
    "wizard step panel": "/agents/ours/assessments/{draft}/wizard/controls/",
    "draft's page": "/agents/ours/assessments/{draft}/",
    "submitted assessment's page": "/agents/ours/assessments/{submitted}/",
    "comparison of versions": "/agents/ours/assessments/compare/?left={submitted}&right={draft}",
    "API agent": "/api/v1/agents/ours",
    "API draft result": "/api/v1/agents/ours/assessments/{draft}",
    "API submitted result": "/api/v1/agents/ours/assessments/{submitted}",
    "OSCAL results": "/agents/ours/assessments/{submitted}/oscal-results.json",
    "inventory CSV": "/reports/inventory.csv",
    "queue": "/queue/",
    "calendar-feed form": "/calendar/",
    # A review of ours triggered by a change to theirs: its reasons, the audit events
    # that record it and the link ours made to theirs.
    "API queue": "/api/v1/queue",
    "audit log": "/audit/",
    "API audit events": "/api/v1/audit-events?limit=1000",
}
FOREIGN_WORDS = ("Secret project", "theirs", "vault-xyz", "mainframe-q", "Research")


class ForeignAgentNamedNowhereTests(TestCase):
    """With reading scoped, an agent of another team linked to one's own is assessed
    with its systems (the decision is everyone's) but named nowhere: not its name, slug
    or team, nor its systems and their access levels."""

    @classmethod
    def setUpTestData(cls):
        cls.home, cls.away = f.team("Payments"), f.team("Research")
        admin = f.administrator()
        f.agent(
            slug="theirs", name="Secret project", team=cls.away, systems=[("vault-xyz", "admin")]
        )
        cls.ours = f.agent(
            slug="ours",
            name="Our bot",
            team=cls.home,
            systems=[("ledger", "read")],
            links=[("orchestrates", "theirs")],
            actor=admin,
        )
        submitted = actions.submit_assessment(admin, f.answered(cls.ours, admin))
        actions.approve_assessment(f.reviewer("boss"), submitted)
        cls.submitted = submitted.number
        cls.draft = f.answered(cls.ours, admin).number
        # Theirs gains a system: ours now reaches more through it, and is reviewed.
        theirs = Agent.objects.get(slug="theirs")
        actions.update_agent(
            admin,
            theirs,
            fields={},
            systems=[
                {"name": "vault-xyz", "access": "admin"},
                {"name": "mainframe-q", "access": "admin"},
            ],
        )
        cls.reason = Review.objects.open().get(agent=cls.ours).reasons[-1]["detail"]
        # The reviewer of the home team reads the audit log and the queue.
        cls.assessor = f.reviewer("home-reviewer")
        cls.assessor.teams.set([cls.home])

    def body(self, url: str) -> str:
        response = self.client.get(url.format(draft=self.draft, submitted=self.submitted))
        self.assertEqual(response.status_code, 200, url)
        if response.streaming:
            return b"".join(response.streaming_content).decode()
        return response.content.decode()

    def test_the_decision_is_made_with_the_foreign_agents_systems(self):
        from assessments.models import Assessment

        decided = Assessment.objects.get(agent=self.ours, number=self.submitted)
        self.assertIn("composite_escalation", decided.result["flags"])

    def test_with_reading_scoped_no_surface_names_the_foreign_agent(self):
        self.client.force_login(self.assessor)
        with self.settings(**READING):
            for surface, url in FOREIGN_SURFACES.items():
                with self.subTest(surface=surface):
                    body = self.body(url)
                    for word in FOREIGN_WORDS:
                        self.assertNotIn(word, body)

    def test_with_editing_scoped_only_the_surfaces_show_it(self):
        self.client.force_login(self.assessor)
        with self.settings(**EDITING):
            for surface in (
                "agent page",
                "wizard live panel",
                "submitted assessment's page",
                "API agent",
                "API draft result",
                "API submitted result",
                "OSCAL results",
            ):
                with self.subTest(surface=surface):
                    self.assertIn("theirs", self.body(FOREIGN_SURFACES[surface]))

    def test_the_reason_says_an_agent_of_another_team(self):
        self.client.force_login(self.assessor)
        with self.settings(**READING):
            for version in (self.draft, self.submitted):
                url = f"/api/v1/agents/ours/assessments/{version}"
                result = self.client.get(url).json()["result"]
                with self.subTest(version=version):
                    self.assertIn("composite_escalation", result["flags"])
                    reason = next(
                        e["text"]
                        for e in result["explanations"]
                        if e["rule"] == "flag.composite_escalation"
                    )
                    self.assertIn("linked_agents = an agent of another team;", reason)
                    self.assertIn("ledger", reason)  # its own systems are its team's
            page = self.body("/agents/ours/")
            self.assertIn("An agent of another team", page)
            # The review's reason: the reach gained, without whose it is.
            self.assertIn("mainframe-q (admin) through theirs", self.reason)
            self.assertIn(
                "Composite reach raised by a change to an agent of another team: through its "
                "linked agents it now reaches more access through an agent of another team.",
                page,
            )
            queue = self.client.get("/api/v1/queue").json()["results"]
            self.assertEqual([item["agent"] for item in queue], ["ours"])
            panel = self.body(FOREIGN_SURFACES["wizard live panel"])
            self.assertIn("an agent of another team", panel)

    def test_a_hidden_slug_is_replaced_where_a_field_names_an_agent_only(self):
        from assessments.access.foreign import LABEL, redact_named

        hidden = {"admin": "Admin bot", "theirs": "Secret project"}
        changes = {
            "systems": [{"name": "ledger", "access": "admin"}],
            "links": {"added": [{"kind": "peer", "agent": "theirs"}]},
            "reasons": ["Composite reach raised by a change to Admin bot (admin): …"],
            "linked_agents": [{"slug": "theirs", "systems": [{"name": "vault-xyz"}]}],
        }
        self.assertEqual(
            redact_named(changes, hidden),
            {
                "systems": [{"name": "ledger", "access": "admin"}],
                "links": {"added": [{"kind": "peer", "agent": LABEL}]},
                "reasons": [f"Composite reach raised by a change to {LABEL}: …"],
                "linked_agents": [{"slug": LABEL, "systems": []}],
            },
        )

    def test_reminders_and_their_notices_name_it_nowhere(self):
        import datetime as dt

        from django.utils import timezone

        from assessments.actions.notifications import review_due_notifications
        from assessments.workflow import reminders

        review = Review.objects.open().get(agent=self.ours)
        with self.settings(**READING):
            notice = review_due_notifications(
                self.assessor, [(review, "overdue")], emailed=False, now=timezone.now()
            )[0]
            self.assertIn("more access through an agent of another team", notice.body)
            # The reminder run goes to the agent's owner, of the home team only.
            self.ours.owner.teams.set([self.home])
            sent, _skipped = reminders.pending(review.due_on + dt.timedelta(days=1))
            item = next(i for r in sent for i in r.items if i.review.pk == review.pk)
            self.assertTrue(item.reasons)
            for text in (notice.body, notice.title, *item.reasons):
                for word in FOREIGN_WORDS:
                    self.assertNotIn(word, text)

    def test_saving_the_agent_keeps_the_link_it_did_not_show(self):
        from tests.api_helpers import ApiClient, token_for

        api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))
        self.ours.refresh_from_db()
        with self.settings(**READING):
            response = api.patch(
                "/agents/ours", {"lock_version": self.ours.lock_version, "links": []}
            )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["links"], [])
        self.assertTrue(self.ours.links_out.filter(target__slug="theirs").exists())
