"""Evidence in the app: upload, proposals, accept/reject, answers marked from evidence,
drift reviews, and who may do what."""

from __future__ import annotations

import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import (
    Assessment,
    AuditEvent,
    EvidenceFile,
    EvidenceJob,
    EvidenceProposal,
    EvidenceUpload,
    Review,
)
from assessments.records import provenance
from assessments.reports.assessment import report_content
from tests import factories as f
from tests.evidence_helpers import ACCOUNT, FIXTURES, RBAC, role

PLANNER = role("agents/release-planner")


def fixture_bytes(name: str) -> tuple[str, bytes]:
    path = FIXTURES / name
    return path.name, path.read_bytes()


def upload(actor, agent, name=ACCOUNT, kind="aws", principal=PLANNER, **kwargs):
    return actions.upload_evidence(
        actor, agent, [fixture_bytes(name)], kind=kind, principal=principal, **kwargs
    )


class UploadActionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.agent = f.agent(slug="release-planner", systems=[("s3", "read")])

    def test_upload_stores_files_with_hash_and_one_proposal_per_key(self):
        outcome = upload(self.assessor, self.agent)
        stored = outcome.upload
        (file,) = stored.files.all()
        self.assertEqual(file.name, "account-authorization-details.json")
        self.assertEqual(len(file.sha256), 64)
        self.assertEqual(bytes(file.content), (FIXTURES / ACCOUNT).read_bytes())
        keys = list(stored.proposals.values_list("key", flat=True))
        self.assertEqual(len(keys), len(set(keys)))
        alters = stored.proposals.get(key="alters_own_access")
        self.assertIs(alters.value, True)
        self.assertEqual(alters.rule, "aws.self_policy_write")
        self.assertTrue(alters.evidence)
        event = AuditEvent.objects.get(verb="evidence.upload")
        self.assertEqual(event.changes["files"][0]["sha256"], file.sha256)

    def test_literal_secrets_are_never_stored(self):
        mcp = (
            b'{"mcpServers": {"crm": {"url": "https://mcp.example.com/",'
            b' "headers": {"Authorization": "Bearer abcdefghijklmnop1234"},'
            b' "env": {"CRM_API_KEY": "s3cr3t-value-here", "REGION": "eu-west-1",'
            b' "TOKEN_REF": "${CRM_TOKEN}"}}}}'
        )
        key_file = (
            b'{"type": "service_account", "client_email": "bot@p.iam.gserviceaccount.com",'
            b' "private_key": "-----BEGIN PRIVATE KEY-----MIIEv...", "note": "AKIAABCDEFGHIJKLMNOP"}'
        )
        secret = b"apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2hunter2}\n"
        outcome = actions.upload_evidence(
            self.assessor, self.agent, [("mcp.json", mcp)], kind="mcp"
        )
        (file,) = outcome.upload.files.all()
        stored = bytes(file.content)
        for leaked in (b"abcdefghijklmnop1234", b"s3cr3t-value-here"):
            self.assertNotIn(leaked, stored)
        self.assertIn(b"eu-west-1", stored)  # not a secret
        self.assertIn(b"${CRM_TOKEN}", stored)  # a reference to one, kept
        self.assertIn(b"[redacted before storing: 17 characters]", stored)
        # the hash and size are the upload's; the analysis saw the real file
        self.assertEqual(file.size, len(mcp))
        self.assertEqual(
            outcome.upload.proposals.get(key="credential_model").value, "static_secret"
        )
        event = AuditEvent.objects.filter(verb="evidence.upload").latest("pk")
        self.assertEqual(event.changes["secrets_redacted"], {"mcp.json": 2})

        from assessments import evidence

        for name, data, leaked in [
            ("key.json", key_file, [b"BEGIN PRIVATE KEY", b"AKIAABCDEFGHIJKLMNOP"]),
            ("secret.yaml", secret, [b"hunter2hunter2"]),
        ]:
            with self.subTest(file=name):
                parsed = evidence.parse_bytes(name, data)
                kept, count = evidence.stored_bytes("kubernetes", parsed, data)
                self.assertEqual(count, len(leaked))
                for text in leaked:
                    self.assertNotIn(text, kept)
                evidence.parse_bytes(name, kept)  # still a readable document
        clean = (FIXTURES / ACCOUNT).read_bytes()
        parsed = evidence.parse_bytes(ACCOUNT, clean)
        self.assertEqual(evidence.stored_bytes("aws", parsed, clean), (clean, 0))

    def test_bad_files_change_nothing_and_name_the_file(self):
        with self.assertRaisesMessage(actions.ActionError, "alias-bomb.yaml"):
            upload(
                self.assessor,
                self.agent,
                "kubernetes/alias-bomb.yaml",
                kind="kubernetes",
                principal="system:serviceaccount:agents:reader",
            )
        with self.assertRaisesMessage(actions.ActionError, "role/agents/ghost"):
            upload(self.assessor, self.agent, principal=role("agents/ghost"))
        with self.assertRaisesMessage(actions.ActionError, "20 MiB"):
            actions.upload_evidence(
                self.assessor,
                self.agent,
                [("big.json", b"[" + b" " * (21 * 1024 * 1024) + b"]")],
                kind="aws",
                principal=PLANNER,
            )
        self.assertFalse(EvidenceUpload.objects.exists())
        self.assertFalse(EvidenceFile.objects.exists())
        self.assertFalse(AuditEvent.objects.filter(verb="evidence.upload").exists())

    def test_the_same_evidence_twice_is_not_stored_again(self):
        first = upload(self.assessor, self.agent)
        second = upload(self.assessor, self.agent)
        self.assertTrue(second.duplicate)
        self.assertEqual(second.upload, first.upload)
        self.assertEqual(EvidenceUpload.objects.count(), 1)

    def test_a_client_path_in_the_file_name_is_dropped(self):
        outcome = actions.upload_evidence(
            self.assessor,
            self.agent,
            [("C:\\exports\\..\\authz.json", (FIXTURES / ACCOUNT).read_bytes())],
            kind="aws",
            principal=PLANNER,
        )
        self.assertEqual(outcome.upload.files.get().name, "authz.json")


class AcceptRejectTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.agent = f.agent(slug="release-planner", systems=[("s3", "read")])

    def setUp(self):
        self.draft = actions.start_assessment(self.assessor, self.agent)
        self.upload = upload(self.assessor, self.agent, assessment=self.draft).upload

    def proposal(self, key):
        return self.upload.proposals.get(key=key)

    def test_accepting_makes_the_answer_marked_from_evidence(self):
        actions.accept_proposal(self.assessor, self.proposal("alters_own_access"), self.draft)
        self.draft.refresh_from_db()
        self.assertIs(self.draft.answers["alters_own_access"], True)
        marked = provenance.answers_from_evidence(self.draft, self.draft.answers)
        self.assertEqual(list(marked), ["alters_own_access"])
        item = marked["alters_own_access"]
        self.assertEqual(item["files"][0]["name"], "account-authorization-details.json")
        self.assertEqual(item["accepted_by"], "Ada Assessor")
        self.assertTrue(AuditEvent.objects.filter(verb="evidence.accept").exists())
        self.assertTrue(AuditEvent.objects.filter(verb="assessment.answer").exists())

    def test_an_answer_changed_after_accepting_is_no_longer_from_evidence(self):
        actions.accept_proposal(self.assessor, self.proposal("alters_own_access"), self.draft)
        self.draft.refresh_from_db()
        actions.save_answers(
            self.assessor,
            self.draft,
            {"alters_own_access": False},
            expected_version=self.draft.lock_version,
        )
        self.draft.refresh_from_db()
        self.assertEqual(provenance.answers_from_evidence(self.draft, self.draft.answers), {})

    def test_accepting_systems_adds_them_to_the_inventory_without_lowering(self):
        actions.accept_proposal(self.assessor, self.proposal("systems"), self.draft)
        systems = dict(self.agent.systems.values_list("name", "access"))
        self.assertEqual(systems, {"s3": "read", "iam": "admin"})
        # The inventory change is the usual one: audited and, for admin access, reviewed.
        self.assertTrue(AuditEvent.objects.filter(verb="agent.update").exists())

    def test_rejecting_needs_a_reason_and_keeps_it(self):
        p = self.proposal("shared_platform_role")
        with self.assertRaisesMessage(actions.ActionError, "needs a reason"):
            actions.reject_proposal(self.assessor, p, "   ")
        actions.reject_proposal(self.assessor, p, "The role is shared with the batch jobs.")
        p.refresh_from_db()
        self.assertEqual(p.status, "rejected")
        self.assertEqual(p.decided_by, self.assessor)
        self.assertEqual(p.rejection_reason, "The role is shared with the batch jobs.")
        self.draft.refresh_from_db()
        self.assertNotIn("shared_platform_role", self.draft.answers)

    def test_a_decided_proposal_cannot_be_decided_again(self):
        p = self.proposal("alters_own_access")
        actions.accept_proposal(self.assessor, p, self.draft)
        with self.assertRaisesMessage(actions.ActionError, "already accepted"):
            actions.reject_proposal(self.assessor, p, "changed my mind")

    def test_proposals_are_not_accepted_into_a_submitted_assessment(self):
        other = f.agent(slug="other")
        submitted = actions.submit_assessment(self.assessor, f.answered(other, self.assessor))
        mine = upload(self.assessor, other).upload.proposals.get(key="alters_own_access")
        with self.assertRaisesMessage(actions.ActionError, "draft"):
            actions.accept_proposal(self.assessor, mine, submitted)

    def test_the_pdf_content_names_the_answers_from_evidence(self):
        actions.accept_proposal(self.assessor, self.proposal("alters_own_access"), self.draft)
        content = report_content(Assessment.objects.get(pk=self.draft.pk))
        (item,) = content["from_evidence"]
        self.assertEqual(item["key"], "alters_own_access")
        self.assertEqual(item["files"][0]["sha256"], self.upload.files.get().sha256)
        rows = {r["id"]: r for s in content["answers"] for r in s["rows"]}
        self.assertTrue(rows["alters_own_access"]["from_evidence"])
        self.assertFalse(rows["decision_mode"]["from_evidence"])

    def test_the_pdf_shows_the_answers_from_evidence_with_the_file_hash(self):
        from tests.report_helpers import pdf_text

        actions.accept_proposal(self.assessor, self.proposal("alters_own_access"), self.draft)
        issued = actions.issue_assessment_report(
            self.assessor, Assessment.objects.get(pk=self.draft.pk)
        )
        text = " ".join(pdf_text(issued.pdf).split())
        self.assertIn("Answers from evidence", text)
        self.assertIn("account-authorization-details.json", text)
        self.assertIn(self.upload.files.get().sha256[:16], text.replace(" ", ""))
        self.assertIn("accepted by Ada Assessor", text)


class PathStepsTests(TestCase):
    """A proposal that rests on a path shows it step by step: on the evidence page, in
    the wizard's panel once accepted, and in the PDF."""

    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.agent = f.agent(slug="quarantined")
        cls.draft = actions.start_assessment(cls.assessor, cls.agent)
        cls.upload = upload(
            cls.assessor,
            cls.agent,
            name="public/aws-quarantined-admin.json",
            principal="arn:aws:iam::111122223333:role/quarantined-admin",
        ).upload
        cls.path = cls.upload.proposals.get(key="alters_own_access")

    def test_the_evidence_page_lists_the_steps_in_order(self):
        self.client.force_login(self.assessor)
        page = self.client.get(self.upload.get_absolute_url())
        self.assertContains(page, "The path, step by step")
        body = page.content.decode()
        first = body.index("quarantined-admin may call iam:DetachRolePolicy")
        second = body.index("detaches managed policy AWSCompromisedKeyQuarantineV2")
        third = body.index("what remains allows: iam:PutRolePolicy")
        self.assertLess(first, second)
        self.assertLess(second, third)

    def test_the_wizard_and_the_pdf_show_the_steps_of_an_accepted_path(self):
        from tests.report_helpers import pdf_text

        actions.accept_proposal(self.assessor, self.path, self.draft)
        self.client.force_login(self.assessor)
        wizard = self.client.get(
            reverse("assessments:wizard", args=["quarantined", 1]), follow=True
        )
        self.assertContains(wizard, "path-steps")
        self.assertContains(wizard, "detaches managed policy AWSCompromisedKeyQuarantineV2")
        issued = actions.issue_assessment_report(
            self.assessor, Assessment.objects.get(pk=self.draft.pk)
        )
        text = " ".join(pdf_text(issued.pdf).split())
        self.assertIn("quarantined-admin may call iam:DetachRolePolicy", text)
        self.assertIn("what remains allows: iam:PutRolePolicy", text)


class DriftTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.reviewer = f.reviewer()

    def approved_agent(self, slug, **answers):
        agent = f.agent(slug=slug, systems=[("iam", "admin"), ("s3", "read")])
        f.approved(agent, self.assessor, self.reviewer, **answers)
        Review.objects.filter(agent=agent).delete()  # the scheduled review, out of the way
        return agent

    def test_evidence_that_contradicts_the_approved_assessment_opens_a_review(self):
        agent = self.approved_agent("planner")  # approved: alters_own_access false
        outcome = upload(self.assessor, agent)
        review = Review.objects.open().get(agent=agent)
        self.assertIsNotNone(review.triggered_at)
        codes = {r["code"] for r in review.reasons}
        self.assertEqual(codes, {"evidence_changed"})
        details = " ".join(r["detail"] for r in review.reasons)
        self.assertIn("evidence says yes; the approved assessment says no", details)
        self.assertEqual(outcome.review, review)

    def test_the_same_evidence_twice_triggers_nothing_more(self):
        agent = self.approved_agent("planner")
        upload(self.assessor, agent)
        reasons = list(Review.objects.open().get(agent=agent).reasons)
        again = upload(self.assessor, agent)
        self.assertTrue(again.duplicate)
        self.assertEqual(Review.objects.open().get(agent=agent).reasons, reasons)

    def test_evidence_that_agrees_triggers_nothing(self):
        agent = self.approved_agent(
            "planner",
            alters_own_access=True,
            decides_own_scopes=False,
            credential_model="workload_identity",
            shared_platform_role=False,
        )
        upload(self.assessor, agent)
        self.assertFalse(Review.objects.filter(agent=agent).exists())

    def test_a_new_write_system_and_a_new_mcp_server_are_differences(self):
        agent = self.approved_agent(
            "desk",
            calls_external_apis=True,
            network_reach="internet",
            tool_selection="chooses_from_allowlist",
            credential_model="static_secret",
        )
        actions.upload_evidence(
            self.assessor, agent, [fixture_bytes("mcp/single-local.yaml")], kind="mcp"
        )
        self.assertFalse(Review.objects.filter(agent=agent).exists())
        actions.upload_evidence(
            self.assessor, agent, [fixture_bytes("mcp/desktop-config.json")], kind="mcp"
        )
        details = " ".join(r["detail"] for r in Review.objects.open().get(agent=agent).reasons)
        self.assertIn("New MCP server in the evidence: github.", details)
        self.assertIn("New MCP server in the evidence: postgres.", details)
        build = self.approved_agent("builder")
        upload(self.assessor, build, principal=role("platform/shared-ec2"))
        details = " ".join(r["detail"] for r in Review.objects.open().get(agent=build).reasons)
        self.assertIn("write access to logs", details)

    def test_no_approved_assessment_means_no_review(self):
        agent = f.agent(slug="new-one")
        upload(self.assessor, agent)
        self.assertFalse(Review.objects.filter(agent=agent).exists())


class EvidencePagesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.viewer = f.viewer()
        cls.agent = f.agent(slug="release-planner")
        cls.draft = actions.start_assessment(cls.assessor, cls.agent)

    def test_upload_form_creates_evidence_and_shows_proposals(self):
        self.client.force_login(self.assessor)
        url = reverse("assessments:evidence_add", args=["release-planner"])
        name, data = fixture_bytes(ACCOUNT)
        # An AWS export is analysed in the background: the page goes to the job's progress.
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                url,
                {"kind": "aws", "principal": PLANNER, "uploads": [SimpleUploadedFile(name, data)]},
            )
        job = EvidenceJob.objects.get()
        self.assertRedirects(response, job.get_absolute_url(), fetch_redirect_response=False)
        stored = EvidenceUpload.objects.get()
        job.refresh_from_db()
        self.assertEqual((job.state, job.upload, job.files), ("done", stored, None))
        # Polled with htmx, a finished job sends the browser to the proposals.
        polled = self.client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
        self.assertEqual(polled.headers["HX-Redirect"], stored.get_absolute_url())
        self.assertRedirects(self.client.get(job.get_absolute_url()), stored.get_absolute_url())
        page = self.client.get(stored.get_absolute_url())
        self.assertContains(page, "may write its own policies or trust policy")
        self.assertContains(page, "RoleDetailList[0].RolePolicyList[0].Statement[1]")
        self.assertContains(page, stored.files.get().sha256)
        self.assertContains(page, "Live decision")

    def test_a_queued_job_shows_its_progress_in_a_polled_fragment(self):
        self.client.force_login(self.assessor)
        name, data = fixture_bytes(ACCOUNT)
        url = reverse("assessments:evidence_add", args=["release-planner"])
        # No worker yet (on_commit callbacks are not run): the job waits, the page polls.
        response = self.client.post(
            url, {"kind": "aws", "principal": PLANNER, "uploads": [SimpleUploadedFile(name, data)]}
        )
        job = EvidenceJob.objects.get()
        self.assertEqual(job.state, "queued")
        page = self.client.get(job.get_absolute_url())
        self.assertContains(page, 'hx-trigger="every 1s"')
        self.assertContains(page, "Waiting for a worker")
        fragment = self.client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
        self.assertContains(fragment, f'id="evidence-job-{job.pk}"')
        self.assertNotContains(fragment, "<html")
        self.assertEqual(response.status_code, 302)
        self.assertFalse(EvidenceUpload.objects.exists())
        self.assertTrue(
            AuditEvent.objects.filter(verb="evidence.queue", object_id=str(job.pk)).exists()
        )
        self.assertNotContains(page, "No worker has picked this up yet")
        EvidenceJob.objects.filter(pk=job.pk).update(
            created_at=job.created_at - dt.timedelta(minutes=5)
        )
        self.assertContains(self.client.get(job.get_absolute_url()), "No worker has picked")

    def test_a_background_refusal_is_the_jobs_message_and_stores_nothing(self):
        self.client.force_login(self.assessor)
        name, data = fixture_bytes(ACCOUNT)
        url = reverse("assessments:evidence_add", args=["release-planner"])
        with self.captureOnCommitCallbacks(execute=True):
            self.client.post(
                url,
                {
                    "kind": "aws",
                    "principal": "arn:aws:iam::123456789012:role/nobody",
                    "uploads": [SimpleUploadedFile(name, data)],
                },
            )
        job = EvidenceJob.objects.get()
        self.assertEqual(job.state, "failed")
        page = self.client.get(job.get_absolute_url())
        self.assertContains(page, "role/nobody")
        self.assertContains(page, "Nothing was stored")
        self.assertNotContains(page, 'hx-trigger="every 1s"')
        self.assertFalse(EvidenceUpload.objects.exists())

    def test_a_large_file_of_any_kind_goes_to_the_background(self):
        from django.test import override_settings

        name, data = fixture_bytes(RBAC)
        self.assertFalse(actions.needs_background("kubernetes", [(name, data)]))
        self.assertTrue(actions.needs_background("aws", [("p.json", b"{}")]))
        with override_settings(EVIDENCE_SYNC_MAX_BYTES=len(data) - 1):
            self.assertTrue(actions.needs_background("kubernetes", [(name, data)]))
            self.client.force_login(self.assessor)
            response = self.client.post(
                reverse("assessments:evidence_add", args=["release-planner"]),
                {
                    "kind": "kubernetes",
                    "principal": "system:serviceaccount:agents:reader",
                    "uploads": [SimpleUploadedFile(name, data)],
                },
            )
        self.assertRedirects(
            response, EvidenceJob.objects.get().get_absolute_url(), fetch_redirect_response=False
        )

    def test_namespace_field_reads_a_kustomize_base(self):
        self.client.force_login(self.assessor)
        name, data = fixture_bytes("public/argocd-server-base.yaml")
        response = self.client.post(
            reverse("assessments:evidence_add", args=["release-planner"]),
            {
                "kind": "kubernetes",
                "principal": "system:serviceaccount:gitops:argocd-server",
                "namespace": "gitops",
                "uploads": [SimpleUploadedFile(name, data)],
            },
        )
        stored = EvidenceUpload.objects.get()
        self.assertRedirects(response, stored.get_absolute_url())
        self.assertEqual(stored.namespace, "gitops")
        self.assertTrue(stored.proposals.filter(key="credential_model").exists())

    def test_upload_form_errors_name_the_file_and_store_nothing(self):
        self.client.force_login(self.assessor)
        url = reverse("assessments:evidence_add", args=["release-planner"])
        name, data = fixture_bytes("kubernetes/alias-bomb.yaml")
        response = self.client.post(
            url,
            {
                "kind": "kubernetes",
                "principal": "system:serviceaccount:agents:reader",
                "uploads": [SimpleUploadedFile(name, data)],
            },
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "alias-bomb.yaml", status_code=422)
        self.assertFalse(EvidenceUpload.objects.exists())

    def test_accept_with_htmx_swaps_the_proposal_and_updates_the_panel(self):
        stored = upload(self.assessor, self.agent).upload
        p = stored.proposals.get(key="alters_own_access")
        self.client.force_login(self.assessor)
        url = reverse("assessments:proposal_decide", args=["release-planner", stored.pk, p.pk])
        response = self.client.post(url, {"decision": "accept"}, HTTP_HX_REQUEST="true")
        self.assertEqual(response.status_code, 200)
        body = response.content.decode()
        self.assertIn(f'id="proposal-{p.pk}"', body)
        self.assertIn("Accepted into assessment v1", body)
        self.assertIn('id="decision-panel"', body)
        self.assertIn('hx-swap-oob="true"', body)
        self.assertIn("Answers from evidence", body)

    def test_reject_without_a_reason_is_refused_with_a_message(self):
        stored = upload(self.assessor, self.agent).upload
        p = stored.proposals.get(key="alters_own_access")
        self.client.force_login(self.assessor)
        url = reverse("assessments:proposal_decide", args=["release-planner", stored.pk, p.pk])
        response = self.client.post(
            url, {"decision": "reject", "reason": ""}, HTTP_HX_REQUEST="true"
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "needs a reason", status_code=422)
        p.refresh_from_db()
        self.assertEqual(p.status, "pending")

    def test_viewer_reads_but_cannot_decide(self):
        stored = upload(self.assessor, self.agent).upload
        p = stored.proposals.get(key="alters_own_access")
        self.client.force_login(self.viewer)
        page = self.client.get(stored.get_absolute_url())
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, "proposal_decide")
        self.assertNotContains(page, ">Accept<")
        url = reverse("assessments:proposal_decide", args=["release-planner", stored.pk, p.pk])
        self.assertEqual(self.client.post(url, {"decision": "accept"}).status_code, 403)
        p.refresh_from_db()
        self.assertEqual(p.status, "pending")

    def test_agent_page_lists_evidence_and_the_wizard_links_to_it(self):
        stored = upload(self.assessor, self.agent).upload
        self.client.force_login(self.assessor)
        page = self.client.get(self.agent.get_absolute_url())
        self.assertContains(page, stored.get_absolute_url())
        self.assertContains(page, "awaiting a decision")
        wizard = self.client.get(
            reverse("assessments:wizard_step", args=["release-planner", 1, "runtime"])
        )
        self.assertContains(wizard, reverse("assessments:evidence_add", args=["release-planner"]))

    def test_assessment_page_marks_answers_from_evidence(self):
        stored = upload(self.assessor, self.agent).upload
        actions.accept_proposal(
            self.assessor, stored.proposals.get(key="alters_own_access"), self.draft
        )
        self.client.force_login(self.viewer)
        page = self.client.get(self.draft.get_absolute_url())
        self.assertContains(page, "From evidence")
        self.assertContains(page, stored.files.get().sha256)

    def test_agent_page_queries_do_not_grow_with_uploads(self):
        self.client.force_login(self.viewer)
        upload(self.assessor, self.agent)
        with self.assertNumQueries(self._count()):
            self.client.get(self.agent.get_absolute_url())
        for name in ("rbac.yaml",):
            actions.upload_evidence(
                self.assessor,
                self.agent,
                [(name, (FIXTURES / RBAC).read_bytes())],
                kind="kubernetes",
                principal="system:serviceaccount:agents:reader",
            )
        actions.upload_evidence(
            self.assessor, self.agent, [fixture_bytes("mcp/desktop-config.json")], kind="mcp"
        )
        with self.assertNumQueries(self._count()):
            self.client.get(self.agent.get_absolute_url())

    def _count(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            self.client.get(self.agent.get_absolute_url())
        return len(ctx.captured_queries)


class ProposalModelTests(TestCase):
    def test_the_database_refuses_a_rejection_without_a_reason(self):
        from django.db import IntegrityError

        assessor = f.assessor()
        stored = upload(assessor, f.agent(slug="x")).upload
        with self.assertRaises(IntegrityError):
            EvidenceProposal.objects.filter(pk=stored.proposals.first().pk).update(
                status="rejected", rejection_reason=""
            )


class NoJavaScriptDecisionTests(TestCase):
    def test_a_plain_post_decides_and_returns_to_the_evidence_page(self):
        assessor = f.assessor()
        agent = f.agent(slug="release-planner")
        actions.start_assessment(assessor, agent)
        stored = upload(assessor, agent).upload
        p = stored.proposals.get(key="decides_own_scopes")
        self.client.force_login(assessor)
        url = reverse("assessments:proposal_decide", args=["release-planner", stored.pk, p.pk])
        response = self.client.post(url, {"decision": "reject", "reason": "Vault is used too."})
        self.assertRedirects(response, stored.get_absolute_url())
        p.refresh_from_db()
        self.assertEqual((p.status, p.rejection_reason), ("rejected", "Vault is used too."))


class OversizedUploadTests(TestCase):
    def test_a_file_over_the_cap_is_refused_by_name_before_it_is_read(self):
        assessor = f.assessor()
        f.agent(slug="big")
        self.client.force_login(assessor)
        big = SimpleUploadedFile("huge-export.json", b"[" + b" " * (21 * 1024 * 1024) + b"]")
        response = self.client.post(
            reverse("assessments:evidence_add", args=["big"]),
            {"kind": "aws", "principal": PLANNER, "uploads": [big]},
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "huge-export.json: larger than the 20 MiB", status_code=422)
        self.assertFalse(EvidenceUpload.objects.exists())
