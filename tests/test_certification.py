"""Access certification campaigns (issue 26 item 4): start, attest with four eyes,
reminders, escalation, overdue agents, planned changes, results and the board pack, on
the pages and through the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import actions
from assessments.models import (
    AuditEvent,
    CertificationCampaign,
    Notification,
    Review,
    System,
)
from assessments.reports import certification as results
from assessments.reports.board import BoardFilters, board_content
from assessments.workflow import certification
from tests import factories as f

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
DEADLINE = TODAY + dt.timedelta(days=14)


class CertificationTestCase(TestCase):
    """Two agents of the Platform team.

    ``billing``: registered by Ada (an assessor) with erp (write) and crm (read); owned by
    Olive with Colin as co-owner, sponsored by Sam; Olive later raised crm to write, so
    she may not certify crm (Colin does).
    ``vault-keeper``: registered by Olive herself with vault (admin); she is its only
    owner and its sponsor, so a reviewer of the team (Rex) certifies vault.
    """

    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(NOW, tick=False))
        self.rex = f.reviewer()
        self.root = f.administrator()
        self.ada = f.assessor()
        self.olive = f.user("olive", "viewer", first_name="Olive", last_name="Owner")
        self.colin = f.user("colin", "viewer", first_name="Colin", last_name="Coowner")
        self.sam = f.user("sam", "viewer", first_name="Sam", last_name="Sponsor")
        self.team = f.team()
        self.rex.teams.add(self.team)
        self.billing = f.agent(
            self.olive, slug="billing", actor=self.ada, systems=[("erp", "write"), ("crm", "read")]
        )
        actions.set_ownership(
            self.root,
            self.billing,
            owner=self.olive,
            sponsor=self.sam,
            co_owners=[self.colin],
            lock_version=self.billing.lock_version,
        )
        self.billing.refresh_from_db()
        actions.update_agent(
            self.olive,
            self.billing,
            fields={},
            systems=[{"name": "erp", "access": "write"}, {"name": "crm", "access": "write"}],
        )
        self.vault = f.agent(self.olive, slug="vault-keeper", systems=[("vault", "admin")])

    def start(self, **overrides):
        data = {
            "name": "Q4 access review",
            "scope_kind": "all",
            "deadline": DEADLINE,
            **overrides,
        }
        return actions.start_campaign(self.rex, **data)

    def item(self, campaign, agent, system=""):
        kind = "access" if system else "invokers"
        return campaign.items.get(agent=agent, kind=kind, system_name=system)

    def attest_web(self, user, item, **data):
        self.client.force_login(user)
        return self.client.post(
            reverse("assessments:certification_attest", args=[item.pk]),
            data,
            headers={"HX-Request": "true", "HX-Target": f"certification-item-{item.pk}"},
        )


class StartTests(CertificationTestCase):
    def test_a_reviewer_starts_a_campaign_on_the_page_and_its_items_are_made(self):
        self.client.force_login(self.rex)
        response = self.client.post(
            reverse("assessments:certification_start"),
            {"name": "Q4 access review", "scope": "all", "deadline": DEADLINE.isoformat()},
        )
        campaign = CertificationCampaign.objects.get()
        self.assertRedirects(
            response, reverse("assessments:certification_campaign", args=[campaign.pk])
        )
        items = sorted(
            (i.agent.slug, i.kind, i.system_name, i.access) for i in campaign.items.all()
        )
        self.assertEqual(
            items,
            [
                ("billing", "access", "crm", "write"),
                ("billing", "access", "erp", "write"),
                ("billing", "invokers", "", ""),
                ("vault-keeper", "access", "vault", "admin"),
                ("vault-keeper", "invokers", "", ""),
            ],
        )
        event = AuditEvent.objects.get(verb="certification.start")
        self.assertEqual(event.actor, self.rex)
        self.assertEqual(event.changes["items"], 5)
        told = set(
            Notification.objects.filter(kind=Notification.Kind.CERTIFICATION).values_list(
                "recipient__username", flat=True
            )
        )
        # Olive owns both agents; Colin co-owns billing; Rex certifies vault (four eyes).
        self.assertEqual(told, {"olive", "colin", "rex"})

    def test_the_audit_log_names_who_requested_each_access(self):
        campaign = self.start()
        requested = {
            i.system_name: {u.username for u in i.requested_by.all()}
            for i in campaign.items.filter(kind="access")
        }
        self.assertEqual(requested, {"erp": {"ada"}, "crm": {"ada", "olive"}, "vault": {"olive"}})

    def test_a_campaign_covers_its_scope_only(self):
        other = f.team("Data")
        f.agent(self.olive, slug="lake", team=other, systems=[("s3", "read")])
        campaign = self.start(scope_kind="team", team=other)
        self.assertEqual(set(campaign.items.values_list("agent__slug", flat=True)), {"lake"})
        self.assertEqual(campaign.scope_label(), "Team Data")

    def test_a_campaign_of_agents_due_takes_the_review_queue(self):
        # Olive raising crm to write triggered billing's review; vault-keeper has none.
        campaign = self.start(scope_kind="due")
        self.assertEqual(set(campaign.items.values_list("agent__slug", flat=True)), {"billing"})

    def test_a_deadline_in_the_past_or_an_empty_scope_is_refused_with_words(self):
        self.client.force_login(self.rex)
        response = self.client.post(
            reverse("assessments:certification_start"),
            {"name": "Late", "scope": "all", "deadline": TODAY.isoformat()},
        )
        self.assertContains(response, "The deadline must be after today.", status_code=422)
        response = self.client.post(
            reverse("assessments:certification_start"),
            {"name": "Tier 4", "scope": "tier", "tier": "4", "deadline": DEADLINE.isoformat()},
        )
        self.assertContains(response, "No active agent is in this scope", status_code=422)
        self.assertFalse(CertificationCampaign.objects.exists())

    def test_with_editing_scoped_a_reviewer_starts_campaigns_of_their_own_team_only(self):
        with (
            self.settings(TEAM_SCOPED_EDITING=True),
            self.assertRaises(PermissionDenied) as refused,
        ):
            self.start()
        self.assertIn("only for your teams", str(refused.exception))
        with self.settings(TEAM_SCOPED_EDITING=True):
            campaign = self.start(scope_kind="team", team=self.team)
        self.assertEqual(campaign.items.count(), 5)


class AttestTests(CertificationTestCase):
    def setUp(self):
        super().setUp()
        self.campaign = self.start()

    def test_an_owner_reduces_an_access_and_the_agents_review_opens(self):
        erp = self.item(self.campaign, self.billing, "erp")
        response = self.attest_web(
            self.olive, erp, decision="reduce", reduce_to="read", reason="Only reads invoices."
        )
        self.assertContains(response, "certified (reduce to read)")
        self.assertContains(response, "Its review is open for the change.")
        erp.refresh_from_db()
        self.assertEqual(
            (erp.decision, erp.reduce_to, erp.decided_by), ("reduce", "read", self.olive)
        )
        review = Review.objects.open().get(agent=self.billing)
        self.assertEqual(erp.review, review)
        reason = review.reasons[-1]
        self.assertEqual(reason["code"], "access_certification")
        self.assertIn("reduce erp from write to read", reason["detail"])
        self.assertIsNotNone(review.triggered_at)
        # Not a silent edit: the inventory keeps write until the change lands.
        self.assertEqual(System.objects.get(agent=self.billing, name="erp").access, "write")
        event = AuditEvent.objects.get(verb="certification.attest")
        self.assertEqual(event.agent, self.billing)
        self.assertEqual(event.changes["decision"], "Reduce to read")

    def test_keep_needs_no_reason_but_reduce_and_revoke_do(self):
        erp = self.item(self.campaign, self.billing, "erp")
        response = self.attest_web(self.olive, erp, decision="revoke", reason="  ")
        self.assertContains(response, "Give a reason", status_code=422)
        response = self.attest_web(
            self.olive, erp, decision="reduce", reduce_to="admin", reason="x"
        )
        self.assertContains(response, "Choose the lower access level", status_code=422)
        erp.refresh_from_db()
        self.assertEqual(erp.decision, "")
        response = self.attest_web(self.olive, erp, decision="keep")
        self.assertEqual(response.status_code, 200)
        erp.refresh_from_db()
        self.assertEqual(erp.decision, "keep")
        # Olive's raise of crm opened a review before; a keep adds no reason to it.
        review = Review.objects.open().get(agent=self.billing)
        self.assertNotIn("access_certification", [r["code"] for r in review.reasons])
        self.assertIsNone(erp.review)

    def test_an_item_is_certified_once(self):
        erp = self.item(self.campaign, self.billing, "erp")
        self.attest_web(self.olive, erp, decision="keep")
        response = self.attest_web(self.colin, erp, decision="revoke", reason="Not needed")
        self.assertContains(response, "already certified", status_code=422)

    def test_who_may_invoke_is_stated_by_the_owners(self):
        invokers = self.item(self.campaign, self.billing)
        response = self.attest_web(self.colin, invokers, decision="keep")
        self.assertContains(response, "Name who may invoke the agent", status_code=422)
        self.attest_web(self.colin, invokers, decision="keep", invokers="The finance team")
        invokers.refresh_from_db()
        self.assertEqual(invokers.invokers, "The finance team")

    def test_four_eyes_an_owner_does_not_certify_an_access_they_requested(self):
        crm = self.item(self.campaign, self.billing, "crm")
        response = self.attest_web(self.olive, crm, decision="keep")
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(crm, certification.to_certify(self.olive))
        self.assertIn(crm, certification.to_certify(self.colin))
        self.attest_web(self.colin, crm, decision="keep")
        crm.refresh_from_db()
        self.assertEqual(crm.decided_by, self.colin)

    def test_an_item_nobody_else_can_certify_goes_to_a_reviewer_of_the_team(self):
        vault = self.item(self.campaign, self.vault, "vault")
        self.assertEqual(certification.certifiers(vault).route, "reviewers")
        self.assertEqual(self.attest_web(self.olive, vault, decision="keep").status_code, 403)
        self.assertEqual(self.attest_web(self.sam, vault, decision="keep").status_code, 403)
        self.assertIn(vault, certification.to_certify(self.rex))
        response = self.attest_web(
            self.rex, vault, decision="reduce", reduce_to="write", reason="x"
        )
        self.assertEqual(response.status_code, 200)

    def test_when_every_owner_requested_it_the_sponsor_certifies(self):
        AgentOwner = self.billing.co_owners.model
        AgentOwner.objects.filter(agent=self.billing).delete()  # Olive is the only owner
        crm = self.item(self.campaign, self.billing, "crm")
        self.assertEqual(certification.certifiers(crm).route, "sponsor")
        self.assertEqual([i.pk for i in certification.to_certify(self.sam)], [crm.pk])
        self.assertEqual(self.attest_web(self.sam, crm, decision="keep").status_code, 200)

    def test_someone_else_may_not_certify_and_an_outsider_of_the_team_finds_nothing(self):
        erp = self.item(self.campaign, self.billing, "erp")
        self.assertEqual(self.attest_web(self.ada, erp, decision="keep").status_code, 403)
        self.ada.teams.set([f.team("Data")])
        with self.settings(TEAM_SCOPED_EDITING=True, TEAM_SCOPED_READING=True):
            self.assertEqual(self.attest_web(self.ada, erp, decision="keep").status_code, 404)
            # Ownership, not the team, makes Olive a certifier.
            self.assertEqual(self.attest_web(self.olive, erp, decision="keep").status_code, 200)

    def test_the_owners_page_has_one_form_per_item_and_works_without_javascript(self):
        self.client.force_login(self.olive)
        response = self.client.get(reverse("assessments:certification_mine"))
        page = response.content.decode()
        erp = self.item(self.campaign, self.billing, "erp")
        vault = self.item(self.campaign, self.vault, "vault")
        self.assertIn(f'id="certification-item-{erp.pk}"', page)
        self.assertNotIn(f'id="certification-item-{vault.pk}"', page)  # Rex's
        self.assertEqual(page.count('name="decision" value="keep"'), 3)  # erp, 2 invokers
        response = self.client.post(
            reverse("assessments:certification_attest", args=[erp.pk]), {"decision": "keep"}
        )
        self.assertRedirects(
            response, reverse("assessments:certification_mine"), fetch_redirect_response=False
        )
        response = self.client.get(reverse("assessments:certification_mine"))
        self.assertContains(response, "certified (keep)")
        self.assertNotContains(response, f'id="certification-item-{erp.pk}"')

    def test_nothing_to_certify_says_so(self):
        self.client.force_login(self.sam)
        response = self.client.get(reverse("assessments:certification_mine"))
        self.assertContains(response, "Nothing to certify")


class DeadlineTests(CertificationTestCase):
    def setUp(self):
        super().setUp()
        self.campaign = self.start()

    def run_daily(self, day):
        self.traveller.move_to(dt.datetime.combine(day, dt.time(6), tzinfo=dt.UTC))
        return actions.send_certification_reminders()

    def notices(self, kind=Notification.Kind.CERTIFICATION):
        return (
            sorted(
                Notification.objects.filter(kind=kind, title__startswith="Reminder").values_list(
                    "recipient__username", flat=True
                )
            )
            if kind == Notification.Kind.CERTIFICATION
            else sorted(
                Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True)
            )
        )

    def test_reminders_go_7_days_and_1_day_before_the_deadline_once_each(self):
        self.assertEqual(self.run_daily(DEADLINE - dt.timedelta(days=8)), [])
        sent = self.run_daily(DEADLINE - dt.timedelta(days=7))
        self.assertEqual(sorted(n.recipient.username for n in sent), ["colin", "olive", "rex"])
        self.assertEqual(self.run_daily(DEADLINE - dt.timedelta(days=5)), [])  # once
        # Colin certifies all he may: he is not reminded again.
        for item in certification.to_certify(self.colin):
            actions.attest_item(self.colin, item, decision="keep", invokers="Finance")
        sent = self.run_daily(DEADLINE - dt.timedelta(days=1))
        self.assertEqual(sorted(n.recipient.username for n in sent), ["olive", "rex"])
        self.assertEqual(AuditEvent.objects.filter(verb="certification.remind").count(), 2)
        self.assertEqual(self.run_daily(DEADLINE), [])

    def test_after_the_deadline_the_sponsor_is_told_and_the_agent_counts_overdue(self):
        for item in [self.item(self.campaign, self.vault, "vault")]:
            actions.attest_item(self.rex, item, decision="keep")
        actions.attest_item(
            self.olive, self.item(self.campaign, self.vault), decision="keep", invokers="Ops"
        )
        actions.attest_item(
            self.olive, self.item(self.campaign, self.billing, "erp"), decision="keep"
        )
        self.assertEqual(certification.figures(self.campaign).total.overdue_agents, 0)
        # On the deadline day the last reminder still goes (it catches up), no escalation.
        sent = self.run_daily(DEADLINE)
        self.assertEqual({n.kind for n in sent}, {Notification.Kind.CERTIFICATION})
        sent = self.run_daily(DEADLINE + dt.timedelta(days=1))
        self.assertEqual([(n.recipient.username, n.agent) for n in sent], [("sam", self.billing)])
        self.assertEqual(sent[0].kind, Notification.Kind.CERTIFICATION_OVERDUE)
        event = AuditEvent.objects.get(verb="certification.escalate")
        self.assertEqual(event.changes["overdue_agents"], ["billing"])
        self.assertEqual(self.run_daily(DEADLINE + dt.timedelta(days=2)), [])
        figures = certification.figures(self.campaign)
        self.assertEqual(figures.total.overdue_agents, 1)
        self.assertEqual(figures.overdue, [self.billing.name])
        self.assertEqual(figures.total.agents_certified, 1)
        # After the deadline the sponsor may certify too; late, billing stays overdue.
        crm = self.item(self.campaign, self.billing, "crm")
        self.assertIn(crm, certification.to_certify(self.sam))
        actions.attest_item(self.sam, crm, decision="revoke", reason="Unused since spring")
        self.assertEqual(certification.figures(self.campaign).total.overdue_agents, 1)

    def test_the_daily_job_sends_them(self):
        from assessments import tasks

        self.traveller.move_to(
            dt.datetime.combine(DEADLINE - dt.timedelta(days=7), dt.time(6), tzinfo=dt.UTC)
        )
        outcome = tasks.send_review_reminders.call()
        self.assertEqual(outcome["certification_notices"], 3)


class PagesAndResultsTests(CertificationTestCase):
    def setUp(self):
        super().setUp()
        self.campaign = self.start()
        actions.attest_item(
            self.olive,
            self.item(self.campaign, self.billing, "erp"),
            decision="reduce",
            reduce_to="read",
            reason="Reads only",
        )
        actions.attest_item(
            self.rex,
            self.item(self.campaign, self.vault, "vault"),
            decision="revoke",
            reason="Gone",
        )

    def test_the_campaign_page_shows_progress_per_campaign_and_per_team(self):
        self.client.force_login(f.viewer())
        response = self.client.get(
            reverse("assessments:certification_campaign", args=[self.campaign.pk])
        )
        self.assertContains(response, '<progress class="app-progress" max="100" value="40"')
        self.assertContains(response, "2 of 5 items certified")
        self.assertContains(response, "Reduce to read")
        self.assertContains(response, "Platform")
        response = self.client.get(reverse("assessments:certification_list"))
        self.assertContains(response, "Q4 access review")
        self.assertContains(response, "40% · 2 of 5 items")

    def test_the_campaign_page_reads_in_a_constant_number_of_queries(self):
        viewer = f.viewer()
        self.client.force_login(viewer)
        url = reverse("assessments:certification_campaign", args=[self.campaign.pk])
        self.client.get(url)
        with CaptureQueriesContext(connection) as small:
            self.client.get(url)
        for n in range(8):
            f.agent(self.olive, actor=self.ada, systems=[(f"sys{n}", "write"), ("db", "read")])
        bigger = self.start(name="Bigger")
        url = reverse("assessments:certification_campaign", args=[bigger.pk])
        with self.assertNumQueries(len(small.captured_queries)):
            self.client.get(url)

    def test_results_as_csv(self):
        self.client.force_login(f.viewer())
        response = self.client.get(
            reverse("assessments:certification_results_csv", args=[self.campaign.pk])
        )
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(len(rows), 5)
        erp = next(r for r in rows if r["Item"] == "erp (write)")
        self.assertEqual(erp["Outcome"], "Reduce to read")
        self.assertEqual(erp["Reason"], "Reads only")
        self.assertEqual(erp["Review opened"], "yes")
        self.assertEqual(erp["Certified by"], "Olive Owner")
        pending = next(r for r in rows if r["Item"] == "crm (write)")
        self.assertEqual(
            (pending["Outcome"], pending["By the deadline"]), ("Not certified", "pending")
        )

    def test_results_as_pdf(self):
        from tests.report_helpers import attachment, pdf_text

        self.client.force_login(f.viewer())
        response = self.client.get(
            reverse("assessments:certification_results_pdf", args=[self.campaign.pk])
        )
        self.assertEqual(response["Content-Type"], "application/pdf")
        text = pdf_text(response.content)
        self.assertIn("Q4 access review", text)
        self.assertIn("Reduce to read", text)
        content = json.loads(attachment(response.content))
        self.assertEqual(content["figures"]["reduce"], 1)
        self.assertEqual(content["figures"]["revoke"], 1)

    def test_the_board_pack_sums_up_the_campaigns_of_its_period(self):
        filters = BoardFilters.from_params({})
        c = board_content(filters, today=TODAY)
        summary = c["certification"]
        self.assertEqual(len(summary["campaigns"]), 1)
        row = summary["campaigns"][0]
        self.assertEqual((row["name"], row["percent"]), ("Q4 access review", 40))
        self.assertEqual((summary["reduce"], summary["revoke"]), (1, 1))
        self.assertEqual(summary["overdue_agents"], 0)
        old = BoardFilters.from_params({"since": "2020-01-01", "until": "2020-03-31"})
        self.assertIsNone(board_content(old, today=TODAY)["certification"])
        self.assertEqual(results.board_summary(TODAY, TODAY, filters.agents())["reduce"], 1)

    def test_the_board_pack_prints_the_section(self):
        from assessments.reports import board
        from tests.report_helpers import pdf_text

        pack = board.render_board_pack(
            BoardFilters.from_params({}),
            document_id="AIA-BP-20261102-0000TEST",
            generated_at=NOW,
            generated_by="Rex Reviewer",
        )
        text = pdf_text(pack.rendered.data)
        self.assertIn("Access certification", text)
        self.assertIn("Q4 access review", text)

    def test_with_reading_scoped_people_read_their_teams_part_only(self):
        other = f.team("Data")
        f.agent(self.olive, slug="lake", team=other, systems=[("s3", "read")])
        campaign = self.start(name="Everything")
        viewer = f.viewer()
        viewer.teams.set([other])
        self.client.force_login(viewer)
        with self.settings(TEAM_SCOPED_EDITING=True, TEAM_SCOPED_READING=True):
            response = self.client.get(
                reverse("assessments:certification_campaign", args=[campaign.pk])
            )
            self.assertContains(response, "lake")
            self.assertNotContains(response, "billing")
            self.assertEqual(
                self.client.get(
                    reverse("assessments:certification_campaign", args=[self.campaign.pk])
                ).status_code,
                404,
            )


class ApiTests(CertificationTestCase):
    def api(self, user, method, path, body=None):
        self.client.force_login(user)
        send = getattr(self.client, method)
        if body is None:
            return send("/api/v1" + path)
        return send("/api/v1" + path, json.dumps(body), content_type="application/json")

    def test_a_campaign_runs_from_start_to_results_through_the_api(self):
        response = self.api(
            self.rex,
            "post",
            "/certification/campaigns",
            {"name": "API review", "scope": "team", "team": "platform", "deadline": str(DEADLINE)},
        )
        self.assertEqual(response.status_code, 201, response.content)
        campaign = response.json()
        self.assertEqual(campaign["progress"]["items"], 5)
        listed = self.api(self.olive, "get", "/certification/campaigns").json()
        self.assertEqual([c["name"] for c in listed["results"]], ["API review"])
        items = self.api(
            self.olive, "get", f"/certification/campaigns/{campaign['id']}/items?pending=true"
        ).json()["results"]
        self.assertEqual(len(items), 5)
        crm = next(i for i in items if i["system"] == "crm")
        self.assertEqual(crm["certifier_route"], "owners")
        refused = self.api(
            self.olive, "post", f"/certification/items/{crm['id']}/attest", {"decision": "keep"}
        )
        self.assertEqual(refused.status_code, 403)
        self.assertIn("Four eyes", refused.json()["detail"])
        invalid = self.api(
            self.colin,
            "post",
            f"/certification/items/{crm['id']}/attest",
            {"decision": "reduce", "reduce_to": "read"},
        )
        self.assertEqual(invalid.status_code, 422)
        done = self.api(
            self.colin,
            "post",
            f"/certification/items/{crm['id']}/attest",
            {"decision": "reduce", "reduce_to": "read", "reason": "Reads customers only"},
        )
        self.assertEqual(done.status_code, 200, done.content)
        self.assertEqual(done.json()["outcome"], "Reduce to read")
        self.assertTrue(done.json()["review_opened"])
        one = self.api(self.olive, "get", f"/certification/campaigns/{campaign['id']}").json()
        self.assertEqual(one["progress"]["certified"], 1)
        self.assertEqual(one["progress"]["reduce"], 1)
        self.assertEqual(one["teams"][0]["team"], "Platform")

    def test_a_bad_campaign_is_refused_with_words(self):
        response = self.api(
            self.rex,
            "post",
            "/certification/campaigns",
            {"name": "X", "scope": "team", "team": "nope", "deadline": str(DEADLINE)},
        )
        self.assertEqual(response.status_code, 422)
        response = self.api(
            self.rex,
            "post",
            "/certification/campaigns",
            {"name": "X", "scope": "all", "deadline": str(TODAY)},
        )
        self.assertEqual(response.status_code, 422)
        self.assertIn("deadline", response.json()["detail"])
        self.assertEqual(
            self.api(self.olive, "get", "/certification/campaigns/999").status_code, 404
        )
