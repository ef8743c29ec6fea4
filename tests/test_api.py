"""The REST API: agents, assessments with four-eyes, manifests, queue, reports, audit."""

from __future__ import annotations

import datetime as dt

from django.test import TestCase
from django.utils import timezone

from assessments import actions
from assessments.models import Agent, ApiToken, Assessment, AuditEvent, Review
from tests import factories as f
from tests.api_helpers import ApiClient, assert_served_from_this_site, token_for


class ApiTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.reviewer = f.reviewer()
        cls.viewer = f.viewer()
        cls.team = f.team("Platform")

    def as_(self, user, *scopes):
        return ApiClient(self.client, token_for(user, scopes or ("read",)))


class AgentEndpointTests(ApiTestCase):
    def test_list_uses_the_pages_filters_and_pagination(self):
        f.agent(slug="alpha", name="Alpha bot")
        f.agent(slug="beta", name="Beta bot")
        actions.retire_agent(self.assessor, f.agent(slug="gone", name="Gone bot"))
        api = self.as_(self.viewer)
        body = api.get("/agents").json()
        self.assertEqual([a["slug"] for a in body["results"]], ["alpha", "beta"])
        self.assertEqual(body["count"], 2)
        self.assertEqual(api.get("/agents", q="beta").json()["count"], 1)
        self.assertEqual(api.get("/agents", status="").json()["count"], 3)
        response = api.get("/agents", tier="9")
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response["Content-Type"], "application/problem+json")
        self.assertEqual(response.json()["errors"][0]["location"], "query.tier")

    def test_an_assessor_creates_an_agent_with_systems_and_links(self):
        f.agent(slug="orchestrator")
        api = self.as_(self.assessor, "read", "write")
        response = api.post(
            "/agents",
            {
                "name": "Invoice triage",
                "purpose": "Routes invoices.",
                "owner": self.assessor.username,
                "team": "platform",
                "environments": ["production"],
                "credential_model": "workload_identity",
                "systems": [{"name": "erp", "access": "write"}],
                "links": [{"kind": "orchestrated_by", "other": "orchestrator"}],
            },
        )
        self.assertEqual(response.status_code, 201, response.content)
        body = response.json()
        self.assertEqual(body["slug"], "invoice-triage")
        self.assertEqual(body["systems"], [{"name": "erp", "access": "write"}])
        self.assertEqual(body["links"], [{"kind": "orchestrated_by", "other": "orchestrator"}])
        event = AuditEvent.objects.filter(verb="agent.create").latest("id")
        self.assertEqual(event.actor, self.assessor)

    def test_bad_agent_data_is_a_problem_naming_the_fields_and_changes_nothing(self):
        api = self.as_(self.assessor, "read", "write")
        response = api.post(
            "/agents",
            {
                "name": "X",
                "purpose": "Y",
                "owner": "nobody-here",
                "team": "platform",
            },
        )
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["errors"][0]["location"], "body.owner")
        response = api.post(
            "/agents",
            {
                "name": "X",
                "purpose": "Y",
                "owner": self.assessor.username,
                "team": "platform",
                "links": [{"kind": "peer", "other": "missing-agent"}],
            },
        )
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["errors"][0]["location"], "body.links.0.other")
        self.assertFalse(Agent.objects.exists())

    def test_nul_in_a_body_or_query_is_a_422_that_changes_nothing(self):
        # PostgreSQL refuses NUL in text: found by schemathesis as a 500 before this.
        api = self.as_(self.assessor, "read", "write")
        response = api.post(
            "/agents",
            {
                "name": "X",
                "purpose": "Y",
                "owner": self.assessor.username,
                "team": "plat\u0000form",
            },
        )
        self.assertEqual(response.status_code, 422, response.content)
        self.assertEqual(response["Content-Type"], "application/problem+json")
        self.assertIn("NUL", response.json()["detail"])
        self.assertFalse(Agent.objects.exists())
        listed = api.get("/agents?q=a%00b")
        self.assertEqual(listed.status_code, 422, listed.content)
        surrogate = api.post(
            "/agents",
            {"name": "lone \ud800", "purpose": "Y", "owner": self.assessor.username},
        )
        self.assertEqual(surrogate.status_code, 422, surrogate.content)
        self.assertIn("surrogate", surrogate.json()["detail"])
        self.assertFalse(Agent.objects.exists())

    def test_a_stale_lock_version_is_a_409_with_both_values(self):
        agent = f.agent(slug="subject", platform="Kubernetes")
        api = self.as_(self.assessor, "read", "write")
        version = api.get("/agents/subject").json()["lock_version"]
        first = api.patch("/agents/subject", {"lock_version": version, "platform": "Lambda"})
        self.assertEqual(first.status_code, 200, first.content)
        self.assertEqual(first.json()["platform"], "Lambda")
        stale = api.patch("/agents/subject", {"lock_version": version, "platform": "ECS"})
        self.assertEqual(stale.status_code, 409)
        self.assertEqual(
            stale.json()["conflicts"]["platform"], {"current": "Lambda", "yours": "ECS"}
        )
        agent.refresh_from_db()
        self.assertEqual(agent.platform, "Lambda")

    def test_retire_and_reactivate(self):
        f.agent(slug="subject")
        api = self.as_(self.assessor, "read", "write")
        self.assertEqual(api.post("/agents/subject/retire").json()["status"], "retired")
        again = api.post("/agents/subject/retire")
        self.assertEqual(again.status_code, 422)
        self.assertEqual(again.json()["detail"], "This agent is already retired.")
        self.assertEqual(api.post("/agents/subject/reactivate").json()["status"], "active")


class AssessmentEndpointTests(ApiTestCase):
    def test_start_answer_submit_and_a_second_person_approves(self):
        f.agent(slug="subject")
        writer = self.as_(self.assessor, "read", "write")
        started = writer.post("/agents/subject/assessments")
        self.assertEqual(started.status_code, 201, started.content)
        draft = started.json()
        self.assertTrue(draft["result"]["provisional"])
        answered = writer.patch(
            "/agents/subject/assessments/1/answers",
            {"answers": f.SCRIPT_ANSWERS, "lock_version": draft["lock_version"]},
        )
        self.assertEqual(answered.status_code, 200, answered.content)
        stale = writer.patch(
            "/agents/subject/assessments/1/answers",
            {"answers": {"decision_mode": "context_driven"}, "lock_version": 0},
        )
        self.assertEqual(stale.status_code, 409)
        self.assertEqual(
            stale.json()["conflicts"]["decision_mode"],
            {"current": "fixed_script", "yours": "context_driven"},
        )
        submitted = writer.post("/agents/subject/assessments/1/submit")
        self.assertEqual(submitted.json()["status"], "submitted")
        # The assessor holds no review scope, and would be refused by four-eyes anyway.
        read = {"lock_version": submitted.json()["lock_version"]}
        self.assertEqual(
            writer.post("/agents/subject/assessments/1/approve", read).status_code, 403
        )
        own = self.as_(f.reviewer("selfish"), "read", "write", "review")
        Assessment.objects.filter(number=1).update(
            submitted_by=own.client and type(self.reviewer).objects.get(username="selfish")
        )
        refused = own.post("/agents/subject/assessments/1/approve", read)
        self.assertEqual(refused.status_code, 422)
        self.assertIn("another reviewer must decide", refused.json()["detail"])
        reviewer = self.as_(self.reviewer, "read", "review")
        approved = reviewer.post("/agents/subject/assessments/1/approve", read)
        self.assertEqual(approved.status_code, 200, approved.content)
        self.assertEqual(approved.json()["status"], "approved")
        self.assertEqual(approved.json()["reviewer"], self.reviewer.username)

    def test_return_needs_a_comment(self):
        agent = f.agent(slug="subject")
        waiting = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        read = {"lock_version": waiting.lock_version}
        reviewer = self.as_(self.reviewer, "read", "review")
        self.assertEqual(
            reviewer.post(
                "/agents/subject/assessments/1/return", {"comment": "", **read}
            ).status_code,
            422,
        )
        returned = reviewer.post(
            "/agents/subject/assessments/1/return", {"comment": "Why?", **read}
        )
        self.assertEqual(returned.json()["status"], "returned")

    def test_a_decision_names_the_version_the_reviewer_read(self):
        agent = f.agent(slug="subject")
        waiting = actions.submit_assessment(self.assessor, f.answered(agent, self.assessor))
        reviewer = self.as_(self.reviewer, "read", "review")
        read = reviewer.get("/agents/subject/assessments/1").json()["lock_version"]
        self.assertEqual(read, waiting.lock_version)
        for decision, body in (("approve", {}), ("return", {"comment": "Why?"})):
            with self.subTest(decision=decision):
                missing = reviewer.post(f"/agents/subject/assessments/1/{decision}", body)
                self.assertEqual(missing.status_code, 422)
                self.assertIn("lock_version", missing.json()["errors"][0]["location"])
                stale = reviewer.post(
                    f"/agents/subject/assessments/1/{decision}", {**body, "lock_version": read + 1}
                )
                self.assertEqual(stale.status_code, 409, stale.content)
                self.assertIn("changed after you opened it", stale.json()["detail"])
        waiting.refresh_from_db()
        self.assertEqual(waiting.status, "submitted")
        self.assertFalse(
            AuditEvent.objects.filter(verb__in=["assessment.approve", "assessment.return"]).exists()
        )
        approved = reviewer.post("/agents/subject/assessments/1/approve", {"lock_version": read})
        self.assertEqual(approved.status_code, 200, approved.content)

    def test_list_and_unknown_assessment(self):
        agent = f.agent(slug="subject")
        f.answered(agent, self.assessor)
        api = self.as_(self.viewer)
        self.assertEqual(api.get("/assessments", agent="subject").json()["count"], 1)
        self.assertEqual(api.get("/assessments", status="nope").status_code, 422)
        missing = api.get("/agents/subject/assessments/99")
        self.assertEqual(missing.status_code, 404)
        self.assertEqual(missing["Content-Type"], "application/problem+json")


MANIFEST = {
    "agent": {
        "name": "Invoice triage assistant",
        "slug": "invoice-triage",
        "owner": "ada@example.com",
        "description": "Reads supplier invoices and routes them for payment.",
    },
    "answers": {
        **f.SCRIPT_ANSWERS,
        "systems": [{"name": "erp", "access": "write"}],
    },
}


class ManifestEndpointTests(ApiTestCase):
    def test_dry_run_shows_the_changes_and_the_decision_and_writes_nothing(self):
        api = self.as_(self.assessor, "read", "write")
        before = AuditEvent.objects.count()
        response = api.post("/manifests", MANIFEST, dry_run="true", team="platform")
        self.assertEqual(response.status_code, 200, response.content)
        body = response.json()
        self.assertFalse(body["exists"])
        self.assertFalse(body["applied"])
        self.assertEqual(body["changes"]["create"]["owner"], "ada")
        self.assertEqual(body["decision"]["classification"], "machine_identity")
        self.assertFalse(Agent.objects.exists())
        self.assertEqual(AuditEvent.objects.count(), before)

    def test_push_creates_the_agent_and_a_draft_then_submits_and_a_reviewer_approves(self):
        pusher = self.as_(self.assessor, "read", "write")
        created = pusher.post("/manifests", MANIFEST, team="platform")
        self.assertEqual(created.status_code, 200, created.content)
        self.assertTrue(created.json()["applied"])
        self.assertEqual(created.json()["assessment"]["status"], "draft")
        agent = Agent.objects.get(slug="invoice-triage")
        self.assertEqual(agent.owner, self.assessor)
        self.assertEqual(list(agent.systems.values_list("name", "access")), [("erp", "write")])
        # The same manifest again changes nothing in the inventory.
        again = pusher.post("/manifests", MANIFEST, dry_run="true")
        self.assertEqual(again.json()["changes"], {})
        self.assertEqual(again.json()["answers"], {})
        submitted = pusher.post("/manifests", MANIFEST, submit="true")
        self.assertEqual(submitted.json()["assessment"]["status"], "submitted")
        self.assertEqual(Assessment.objects.filter(agent=agent).count(), 1)
        busy = pusher.post("/manifests", MANIFEST)
        self.assertEqual(busy.status_code, 409)
        reviewer = self.as_(self.reviewer, "read", "review")
        approved = reviewer.post(
            "/agents/invoice-triage/assessments/1/approve",
            {"lock_version": submitted.json()["assessment"]["lock_version"]},
        )
        self.assertEqual(approved.json()["status"], "approved")

    def test_an_invalid_manifest_names_the_key_and_changes_nothing(self):
        api = self.as_(self.assessor, "read", "write")
        bad = {**MANIFEST, "answers": {**MANIFEST["answers"], "decision_mode": "vibes"}}
        response = api.post("/manifests", bad, team="platform")
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["errors"][0]["key"], "answers.decision_mode")
        self.assertEqual(api.post("/manifests", MANIFEST).status_code, 422)  # no team
        self.assertFalse(Agent.objects.exists())

    def test_a_refused_submit_rolls_the_whole_push_back(self):
        api = self.as_(self.assessor, "read", "write")
        partial = {**MANIFEST, "answers": {"decision_mode": "fixed_script"}}
        response = api.post("/manifests", partial, team="platform", submit="true")
        self.assertEqual(response.status_code, 422)
        self.assertIn("missing", response.json()["detail"])
        self.assertFalse(Agent.objects.exists())


class QueueReportAuditCatalogueTests(ApiTestCase):
    def test_queue_lists_and_a_reviewer_assigns(self):
        agent = f.agent(slug="subject")
        f.approved(agent, self.assessor, f.reviewer("approver"))
        review = Review.objects.open().get(agent=agent)
        Review.objects.filter(pk=review.pk).update(
            due_on=timezone.localdate() - dt.timedelta(days=1)
        )
        api = self.as_(self.reviewer, "read", "review")
        body = api.get("/queue").json()
        self.assertEqual(body["counts"]["overdue"], 1)
        self.assertEqual(body["results"][0]["id"], review.pk)
        read = body["results"][0]["lock_version"]
        assigned = api.post(
            f"/queue/{review.pk}/assign",
            {"assignee": self.reviewer.username, "lock_version": read},
        )
        self.assertEqual(assigned.json()["assignee"], self.reviewer.username)
        self.assertEqual(assigned.json()["lock_version"], read + 1)
        refused = api.post(
            f"/queue/{review.pk}/assign", {"assignee": self.viewer.username, "lock_version": read}
        )
        self.assertEqual(refused.status_code, 422)

    def test_assigning_from_a_stale_queue_is_a_409_that_changes_nothing(self):
        agent = f.agent(slug="subject")
        f.approved(agent, self.assessor, f.reviewer("approver"))
        review = Review.objects.open().get(agent=agent)
        Review.objects.filter(pk=review.pk).update(
            due_on=timezone.localdate() - dt.timedelta(days=1)
        )
        api = self.as_(self.reviewer, "read", "review")
        read = api.get("/queue").json()["results"][0]["lock_version"]
        other = f.reviewer("other")
        actions.assign_review(self.reviewer, review, other)  # someone else, meanwhile
        stale = api.post(
            f"/queue/{review.pk}/assign", {"assignee": self.reviewer.username, "lock_version": read}
        )
        self.assertEqual(stale.status_code, 409, stale.content)
        self.assertIn("is now assigned to", stale.json()["detail"])
        review.refresh_from_db()
        self.assertEqual(review.assignee, other)
        missing = api.post(f"/queue/{review.pk}/assign", {"assignee": self.reviewer.username})
        self.assertEqual(missing.status_code, 422)
        self.assertEqual(missing.json()["errors"][0]["location"], "body.body.lock_version")

    def test_audit_events_page_by_cursor_with_chain_fields(self):
        f.agent(slug="one")
        f.agent(slug="two")
        api = self.as_(self.reviewer, "read")
        first = api.get("/audit-events", limit=1).json()
        self.assertTrue(first["more"])
        event = AuditEvent.objects.get(pk=first["events"][0]["id"])
        self.assertEqual(first["events"][0]["hash"], event.hash)
        self.assertEqual(first["events"][0]["prev_hash"], AuditEvent.GENESIS)
        rest = api.get("/audit-events", since=first["next_since"]).json()
        ids = [e["id"] for e in rest["events"]]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(ids[0], first["next_since"] + 1)
        self.assertEqual(self.as_(self.viewer).get("/audit-events").status_code, 403)

    def test_catalogue_reads_the_current_version(self):
        body = self.as_(self.viewer).get("/catalogue").json()
        self.assertTrue(body["is_current"])
        self.assertTrue(body["controls"])
        self.assertEqual(self.as_(self.viewer).get("/catalogue", version="nope").status_code, 404)

    def test_csv_and_pdf_downloads(self):
        agent = f.agent(slug="subject")
        f.answered(agent, self.assessor)
        api = self.as_(self.viewer)
        csv = api.get("/exports/inventory.csv")
        self.assertEqual(csv.status_code, 200)
        self.assertIn("subject", b"".join(csv.streaming_content).decode())
        pdf = api.get("/agents/subject/assessments/1/report.pdf")
        self.assertEqual(pdf["Content-Type"], "application/pdf")
        self.assertTrue(pdf.content.startswith(b"%PDF"))

    def test_board_pack_is_queued_and_reports_its_status(self):
        api = self.as_(self.assessor, "read", "write")
        with self.captureOnCommitCallbacks(execute=True):
            created = api.post("/board-packs", {"tier": 4})
        self.assertEqual(created.status_code, 202, created.content)
        job = api.get(f"/board-packs/{created.json()['id']}").json()
        self.assertEqual(job["state"], "done")  # the test tasks backend runs it at once
        pdf = api.get(f"/board-packs/{job['id']}/pdf")
        self.assertTrue(pdf.content.startswith(b"%PDF"))
        bad = api.post("/board-packs", {"since": "2999-01-01"})
        self.assertEqual(bad.status_code, 422)


class TokenAuthTests(ApiTestCase):
    def test_no_token_is_a_401_problem(self):
        response = self.client.get("/api/v1/agents")
        self.assertEqual(response.status_code, 401)
        self.assertEqual(response["Content-Type"], "application/problem+json")
        self.assertEqual(response.json()["title"], "Unauthorized")

    def test_a_revoked_token_is_refused_and_the_attempt_audited(self):
        secret = token_for(self.viewer)
        token = ApiToken.objects.get(user=self.viewer)
        self.assertEqual(ApiClient(self.client, secret).get("/agents").status_code, 200)
        token.refresh_from_db()
        self.assertIsNotNone(token.last_used_at)
        actions.revoke_api_token(self.viewer, token)
        self.assertEqual(ApiClient(self.client, secret).get("/agents").status_code, 401)
        event = AuditEvent.objects.filter(verb="api_token.refused").latest("id")
        self.assertEqual(event.changes["reason"], "revoked")
        self.assertEqual(event.object_id, str(token.pk))

    def test_an_expired_token_is_refused(self):
        secret = token_for(self.viewer)
        ApiToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        self.assertEqual(ApiClient(self.client, secret).get("/agents").status_code, 401)
        self.assertEqual(
            AuditEvent.objects.filter(verb="api_token.refused").latest("id").changes["reason"],
            "expired",
        )

    def test_a_token_without_the_scope_is_refused_even_for_a_reviewer(self):
        f.agent(slug="subject")
        api = self.as_(self.reviewer, "read")
        response = api.post("/agents/subject/retire")
        self.assertEqual(response.status_code, 403)
        self.assertIn("write scope", response.json()["detail"])
        self.assertEqual(Agent.objects.get(slug="subject").status, "active")

    def test_the_session_works_with_csrf_enforced(self):
        from django.test import Client

        f.agent(slug="subject")
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(self.assessor)
        self.assertEqual(browser.get("/api/v1/agents").status_code, 200)
        refused = browser.post("/api/v1/agents/subject/retire")
        self.assertEqual(refused.status_code, 403)
        self.assertEqual(Agent.objects.get(slug="subject").status, "active")
        browser.get("/agents/")  # sets the CSRF cookie
        token = browser.cookies["csrftoken"].value
        allowed = browser.post("/api/v1/agents/subject/retire", headers={"X-CSRFToken": token})
        self.assertEqual(allowed.status_code, 200, allowed.content)


class DocsTests(ApiTestCase):
    def test_openapi_is_3_1_and_the_docs_load_only_from_this_site(self):
        self.client.force_login(self.viewer)
        schema = self.client.get("/api/v1/openapi.json").json()
        self.assertTrue(schema["openapi"].startswith("3.1"))
        docs = self.client.get("/api/v1/docs")
        self.assertEqual(docs.status_code, 200)
        html = docs.content.decode()
        self.assertIn("/static/vendor/swagger-ui/swagger-ui-bundle.js", html)
        assert_served_from_this_site(self, html)
        self.assertNotIn("<script>", html)
        self.assertIn("Content-Security-Policy", docs.headers)
        self.assertNotIn("unsafe-inline", docs.headers["Content-Security-Policy"])
