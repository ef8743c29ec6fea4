"""Authorship is whatever shaped the version (issue 23, item 1).

Every path that can shape an open draft (the agent's page, the API, a CSV import, a
manifest push, an evidence proposal accepted or rejected, the admin's catalogue pages,
a link from another agent) makes the person who took it an author of the version: they
may not approve or return it, on the web or through the API, and neither may a service
account they created or minted a token for.
"""

from __future__ import annotations

from django.contrib import admin
from django.test import RequestFactory, TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import Assessment, AuditEvent, Control
from assessments.records import authorship
from tests import factories as f
from tests.api_helpers import ApiClient, token_for
from tests.test_evidence_web import upload
from tests.test_import import edit, export

SLUG = "release-planner"


def _web_edit(test, actor):
    test.client.force_login(actor)
    agent = test.agent
    agent.refresh_from_db()
    data = {
        "name": agent.name,
        "slug": agent.slug,
        "purpose": agent.purpose,
        "owner": str(agent.owner_id),
        "team": str(agent.team_id),
        "environments": ["production"],
        "platform": agent.platform,
        "credential_model": agent.credential_model,
        "lock_version": str(agent.lock_version),
        "systems-TOTAL_FORMS": "1",
        "systems-INITIAL_FORMS": "1",
        "systems-0-name": "s3",
        "systems-0-access": "admin",
        "links-TOTAL_FORMS": "0",
        "links-INITIAL_FORMS": "0",
    }
    response = test.client.post(reverse("assessments:agent_edit", args=[SLUG]), data)
    test.assertEqual(response.status_code, 302, response.content[:2000])
    return authorship.CHANGED_AGENT


def _api_patch(test, actor):
    test.agent.refresh_from_db()
    api = ApiClient(test.client, token_for(actor, ("read", "write")))
    response = api.patch(
        f"/agents/{SLUG}",
        {
            "lock_version": test.agent.lock_version,
            "systems": [{"name": "s3", "access": "write"}],
            "links": [],
        },
    )
    test.assertEqual(response.status_code, 200, response.content)
    return authorship.CHANGED_AGENT


def _csv_import(test, actor):
    test.client.force_login(actor)
    text = edit(export(test.client), SLUG, systems="s3 (read); iam (admin)")
    from django.core.files.uploadedfile import SimpleUploadedFile

    preview = test.client.post(
        "/agents/import/", {"file": SimpleUploadedFile("a.csv", text.encode("utf-8-sig"))}
    )
    test.assertEqual(preview.status_code, 200)
    done = test.client.post("/agents/import/", {"apply": "1", "key": preview.context["key"]})
    test.assertIn(done.status_code, (200, 302))
    test.assertEqual(
        dict(test.agent.systems.values_list("name", "access")), {"s3": "read", "iam": "admin"}
    )
    return authorship.CHANGED_AGENT


def _manifest_push(test, actor):
    api = ApiClient(test.client, token_for(actor, ("read", "write")))
    manifest = {
        "agent": {
            "name": test.agent.name,
            "slug": SLUG,
            "owner": test.agent.owner.get_username(),
            "description": test.agent.purpose,
        },
        "answers": {
            **f.SCRIPT_ANSWERS,
            "network_reach": "internet",
            "systems": [{"name": "s3", "access": "read"}],
        },
    }
    response = api.post("/manifests", manifest)
    test.assertEqual(response.status_code, 200, response.content)
    return authorship.CHANGED_AGENT  # its systems first, then its answers


def _decide_proposal(test, actor, key, decision):
    test.client.force_login(actor)
    proposal = test.upload.proposals.get(key=key)
    url = reverse("assessments:proposal_decide", args=[SLUG, test.upload.pk, proposal.pk])
    test.client.post(url, {"decision": decision, "reason": "Not what the role does."})
    proposal.refresh_from_db()
    test.assertEqual(proposal.status, "accepted" if decision == "accept" else "rejected")


def _evidence_accept(test, actor):
    _decide_proposal(test, actor, "systems", "accept")
    return authorship.CHANGED_AGENT  # the systems proposal changes the inventory


def _evidence_accept_answer(test, actor):
    _decide_proposal(test, actor, "alters_own_access", "accept")
    return authorship.ANSWERED


def _evidence_reject(test, actor):
    _decide_proposal(test, actor, "shared_platform_role", "reject")
    return authorship.REJECTED


def _linked_agent(test, actor):
    other = f.agent(slug="helper", team=test.agent.team)
    api = ApiClient(test.client, token_for(actor, ("read", "write")))
    response = api.patch(
        "/agents/helper",
        {"lock_version": other.lock_version, "links": [{"kind": "orchestrates", "other": SLUG}]},
    )
    test.assertEqual(response.status_code, 200, response.content)
    return authorship.CHANGED_LINKED


def _admin_catalogue(test, actor):
    control = Control.objects.filter(catalogue=test.draft.catalogue).first()
    model_admin = admin.site._registry[Control]
    request = RequestFactory().post("/admin/")
    request.user = actor
    form_class = model_admin.get_form(request, control, change=True)
    data = {
        name: form_class.base_fields[name].prepare_value(getattr(control, name))
        if hasattr(form_class.base_fields[name], "prepare_value")
        else getattr(control, name)
        for name in form_class.base_fields
    }
    data["catalogue"] = control.catalogue_id
    data["title"] = control.title + " (tightened)"
    form = form_class(data, instance=Control.objects.get(pk=control.pk))
    test.assertTrue(form.is_valid(), form.errors)
    model_admin.save_model(request, form.save(commit=False), form, True)
    return authorship.CHANGED_CATALOGUE


PATHS = {
    "web agent edit": _web_edit,
    "API PATCH": _api_patch,
    "CSV import": _csv_import,
    "manifest push": _manifest_push,
    "evidence: systems accepted": _evidence_accept,
    "evidence: answer accepted": _evidence_accept_answer,
    "evidence: rejected": _evidence_reject,
    "a linked agent's links": _linked_agent,
    "admin: catalogue": _admin_catalogue,
}
# Who may take the path at all (the catalogue pages are the administrators').
ROLES = {
    "assessor": [p for p in PATHS if p != "admin: catalogue"],
    "reviewer": [p for p in PATHS if p != "admin: catalogue"],
    "administrator": list(PATHS),
}


class AuthorshipTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.agent = f.agent(
            self.assessor, slug=SLUG, systems=[("s3", "read")], actor=self.assessor
        )
        self.draft = f.answered(self.agent, self.assessor)
        self.upload = upload(self.assessor, self.agent, assessment=self.draft).upload
        self.other_reviewer = f.reviewer("rita")

    def submit(self):
        self.draft.refresh_from_db()
        return actions.submit_assessment(self.assessor, self.draft)

    def web_decide(self, user, submitted, decision="approve"):
        self.client.force_login(user)
        url = reverse("assessments:assessment_decide", args=[SLUG, submitted.number])
        return self.client.post(
            url,
            {"decision": decision, "lock_version": submitted.lock_version, "comment": "No."},
        )

    def api_decide(self, user, submitted, decision="approve"):
        from assessments.actions.accounts import allowed_scopes

        scopes = tuple(s for s in ("read", "review") if s in allowed_scopes(user))
        api = ApiClient(self.client, token_for(user, scopes))
        body = {"comment": "No."} if decision == "return" else {}
        body["lock_version"] = submitted.lock_version
        path = f"/agents/{SLUG}/assessments/{submitted.number}/{decision}"
        return api.post(path, body)

    def assert_refused(self, response, reason, submitted):
        self.assertIn(response.status_code, (403, 409, 422), response.content[:500])
        self.assertIn(reason, response.content.decode())
        submitted.refresh_from_db()
        self.assertEqual(submitted.status, "submitted")

    def test_every_path_makes_every_role_an_author_who_may_not_decide(self):
        for role, paths in ROLES.items():
            for path in paths:
                with self.subTest(role=role, path=path):
                    self._one(role, path)

    def _one(self, role, path):
        from django.db import transaction

        try:
            with transaction.atomic():
                actor = f.user(f"{role[:3]}-{list(PATHS).index(path)}", role)
                phrase = PATHS[path](self, actor)
                submitted = self.submit()
                allowed, why = actions.can_review(actor, submitted)
                self.assertFalse(allowed)
                if role == "assessor":
                    reason = "Only reviewers can approve or return assessments."
                    self.assertEqual(why, reason)
                else:
                    reason = f"You {phrase}, so another reviewer must decide it."
                    self.assertEqual(why, reason)
                for decision in ("approve", "return"):
                    self.assert_refused(self.web_decide(actor, submitted, decision), "", submitted)
                    self.assert_refused(self.api_decide(actor, submitted, decision), "", submitted)
                if role != "assessor":
                    self.assertIn(
                        "so another reviewer must decide it",
                        self.api_decide(actor, submitted).json()["detail"],
                    )
                    self.assertContains(
                        self.web_decide(actor, submitted),
                        "another reviewer must decide it",
                        status_code=422,
                    )
                if role == "administrator":
                    # Nor through a reviewer service account the administrator created.
                    account = actions.create_service_account(
                        actor, username=f"sa-{list(PATHS).index(path)}", role="reviewer"
                    )
                    _t, secret = actions.create_api_token(
                        actor,
                        owner=account.user,
                        name="ci",
                        scopes=["read", "review"],
                        expires_in_days=5,
                    )
                    response = ApiClient(self.client, secret).post(
                        f"/agents/{SLUG}/assessments/{submitted.number}/approve",
                        {"lock_version": submitted.lock_version},
                    )
                    self.assert_refused(
                        response,
                        f"This service account acts for {actor.get_username()}, who {phrase}",
                        submitted,
                    )
                # Another reviewer decides it.
                approved = actions.approve_assessment(self.other_reviewer, submitted)
                self.assertEqual(approved.status, "approved")
                raise _Rollback
        except _Rollback:
            pass


class _Rollback(Exception):
    pass


class DoneWhenTests(TestCase):
    """The issue's cases, end to end on the web and through the API."""

    def setUp(self):
        self.assessor = f.assessor()
        self.reviewer = f.reviewer()
        self.other = f.reviewer("rita")
        self.agent = f.agent(
            self.assessor,
            slug="report-writer-agent",
            systems=[("crm", "admin"), ("erp", "write")],
            links=[("orchestrates", f.agent(slug="payments").slug)],
        )
        self.draft = f.answered(self.agent, self.assessor, orchestration="orchestrates_agents")

    def test_a_reviewer_who_lowered_the_inventory_cannot_approve_by_api(self):
        api = ApiClient(self.client, token_for(self.reviewer, ("read", "write", "review")))
        self.agent.refresh_from_db()
        patched = api.patch(
            "/agents/report-writer-agent",
            {
                "lock_version": self.agent.lock_version,
                "systems": [{"name": "crm", "access": "read"}, {"name": "erp", "access": "read"}],
                "links": [],
            },
        )
        self.assertEqual(patched.status_code, 200, patched.content)
        submitted = actions.submit_assessment(self.assessor, self.draft)
        refused = api.post(
            f"/agents/report-writer-agent/assessments/{submitted.number}/approve",
            {"lock_version": submitted.lock_version},
        )
        self.assertEqual(refused.status_code, 422, refused.content)
        self.assertIn("changed the agent", refused.json()["detail"])
        self.assertFalse(AuditEvent.objects.filter(verb="assessment.approve").exists())
        self.assertEqual(actions.approve_assessment(self.other, submitted).status, "approved")

    def test_an_administrator_cannot_approve_own_work_through_a_service_account(self):
        admin_user = f.administrator()
        draft = f.answered(f.agent(slug="mine"), admin_user)
        submitted = actions.submit_assessment(admin_user, draft)
        account = actions.create_service_account(admin_user, username="ci-bot", role="reviewer")
        _t, secret = actions.create_api_token(
            admin_user, owner=account.user, name="ci", scopes=["review"], expires_in_days=5
        )
        response = ApiClient(self.client, secret).post(
            "/agents/mine/assessments/1/approve", {"lock_version": submitted.lock_version}
        )
        self.assertEqual(response.status_code, 422, response.content)
        self.assertEqual(
            response.json()["detail"],
            "This service account acts for root, who started this assessment, so another "
            "reviewer must decide it.",
        )
        self.assertEqual(Assessment.objects.get(pk=submitted.pk).status, "submitted")

    def test_a_token_minted_by_another_administrator_acts_for_them_too(self):
        creator, minter = f.administrator(), f.administrator("mint")
        draft = f.answered(f.agent(slug="minted"), minter)
        submitted = actions.submit_assessment(minter, draft)
        account = actions.create_service_account(creator, username="ci-bot", role="reviewer")
        _t, secret = actions.create_api_token(
            minter, owner=account.user, name="ci", scopes=["review"], expires_in_days=5
        )
        response = ApiClient(self.client, secret).post(
            "/agents/minted/assessments/1/approve", {"lock_version": submitted.lock_version}
        )
        self.assertIn("acts for mint, who started", response.json()["detail"])

    def test_a_service_account_of_a_person_who_may_not_review_may_not_either(self):
        admin_user = f.administrator()
        assessor_sa = actions.create_service_account(admin_user, username="ci", role="reviewer")
        # The creator lost the role that let them decide: the account may not decide.
        admin_user.groups.clear()
        submitted = actions.submit_assessment(self.assessor, self.draft)
        allowed, why = actions.can_review(assessor_sa.user, submitted)
        self.assertFalse(allowed)
        self.assertIn("acts for root, who may not approve or return", why)

    def test_what_a_service_account_shaped_its_creator_shaped(self):
        admin_user = f.administrator()
        account = actions.create_service_account(admin_user, username="sync", role="assessor")
        self.agent.refresh_from_db()
        actions.update_agent(
            account.user,
            self.agent,
            fields={},
            systems=[{"name": "crm", "access": "read"}],
            expected_version=self.agent.lock_version,
        )
        submitted = actions.submit_assessment(self.assessor, self.draft)
        allowed, why = actions.can_review(admin_user, submitted)
        self.assertFalse(allowed)
        self.assertIn("through the service account sync", why)

    def test_a_reviewer_who_accepted_the_systems_proposal_cannot_approve_on_the_web(self):
        agent = f.agent(self.assessor, slug=SLUG, systems=[("s3", "read")])
        draft = f.answered(agent, self.assessor)
        proposal = upload(self.assessor, agent, assessment=draft).upload.proposals.get(
            key="systems"
        )
        self.client.force_login(self.reviewer)
        self.client.post(
            reverse("assessments:proposal_decide", args=[SLUG, proposal.upload_id, proposal.pk]),
            {"decision": "accept"},
        )
        self.assertIn("iam", set(agent.systems.values_list("name", flat=True)))
        draft.refresh_from_db()
        submitted = actions.submit_assessment(self.assessor, draft)
        response = self.client.post(
            reverse("assessments:assessment_decide", args=[SLUG, submitted.number]),
            {"decision": "approve", "lock_version": submitted.lock_version},
        )
        self.assertContains(response, "You changed the agent", status_code=422)
        submitted.refresh_from_db()
        self.assertEqual(submitted.status, "submitted")

    def test_a_reviewer_who_imported_the_agent_cannot_approve(self):
        self.client.force_login(self.reviewer)
        text = edit(export(self.client), "report-writer-agent", systems="crm (read)")
        from django.core.files.uploadedfile import SimpleUploadedFile

        preview = self.client.post(
            "/agents/import/", {"file": SimpleUploadedFile("a.csv", text.encode("utf-8-sig"))}
        )
        self.client.post("/agents/import/", {"apply": "1", "key": preview.context["key"]})
        self.assertEqual(list(self.agent.systems.values_list("name", flat=True)), ["crm"])
        submitted = actions.submit_assessment(self.assessor, self.draft)
        with self.assertRaisesMessage(actions.ActionError, "You changed the agent"):
            actions.approve_assessment(self.reviewer, submitted)

    def test_changes_before_the_version_was_opened_or_after_submission_do_not_count(self):
        agent = f.agent(self.assessor, slug="later", systems=[("s3", "read")])
        agent = actions.update_agent(
            self.reviewer, agent, fields={}, systems=[{"name": "s3", "access": "write"}]
        )
        draft = f.answered(agent, self.assessor)
        submitted = actions.submit_assessment(self.assessor, draft)
        agent.refresh_from_db()
        actions.update_agent(
            self.reviewer, agent, fields={}, systems=[{"name": "s3", "access": "read"}]
        )
        self.assertEqual(actions.can_review(self.reviewer, submitted), (True, ""))
