"""Findings of the attack on the app: hostile paths and dates give a 4xx, never a 500."""

from __future__ import annotations

from django.test import TestCase, override_settings
from django.urls import reverse

from assessments.models import AuditEvent, BoardPackJob, WebhookEndpoint
from assessments.reports.board import BoardFilters, FilterError
from tests import factories as f


class NulInPathTests(TestCase):
    def test_a_refused_url_with_nul_is_a_403_and_audited_readably(self):
        self.client.force_login(f.outsider())
        # <str:…> routes match a NUL, so the refusal is audited with the path.
        for path in ["/agents/form-row/%00/", "/agents/form-row/a%00b/?index=%00"]:
            with self.subTest(path=path):
                self.assertEqual(self.client.get(path).status_code, 403)
        refused = AuditEvent.objects.filter(verb="access.forbidden")
        self.assertFalse(any("\x00" in r for r in refused.values_list("object_repr", flat=True)))
        self.assertTrue(refused.filter(object_repr="GET /agents/form-row/%00/").exists())

    def test_anonymous_and_signed_in_visitors_get_a_4xx_for_nul_anywhere(self):
        viewer = f.viewer()
        for who in (None, viewer):
            if who:
                self.client.force_login(who)
            for path in [
                "/%00",
                "/agents/%00/edit/",
                "/agents/form-row/%00/",
                "/calendar/feed/%00.ics",
                "/admin/%00/",
                "/admin/assessments/agent/%00/change/",
            ]:
                with self.subTest(who=who, path=path):
                    response = self.client.get(path)
                    self.assertLess(response.status_code, 500)
                    self.assertGreaterEqual(response.status_code, 300)


class DateOverflowTests(TestCase):
    def setUp(self):
        self.client.force_login(f.assessor())

    def test_board_pack_periods_that_overflow_are_a_422(self):
        for data in [
            {"until": "0001-01-05"},
            {"since": "0001-01-01", "until": "0001-01-02"},
            {"since": "9999-12-30"},
            {"until": "9999-12-31"},
        ]:
            with self.subTest(data=data):
                response = self.client.post(reverse("assessments:board_pack_request"), data)
                self.assertEqual(response.status_code, 422)
        self.assertFalse(BoardPackJob.objects.exists())

    def test_board_filters_from_the_command_line_refuse_overflowing_periods(self):
        for params in [{"until": "0001-01-05"}, {"since": "0001-01-01", "until": "0002-01-01"}]:
            with self.subTest(params=params), self.assertRaises(FilterError):
                BoardFilters.from_params(params)

    def test_audit_filters_with_extreme_dates_are_a_form_error(self):
        self.client.force_login(f.reviewer())
        for value in ["0001-01-01", "9999-12-31", "0000-00-00"]:
            with self.subTest(value=value):
                response = self.client.get(
                    reverse("assessments:audit_list"), {"since": value, "until": value}
                )
                self.assertEqual(response.status_code, 200)
                self.assertTrue(response.context["form"].errors)

    def test_an_exception_expiring_in_year_9999_is_refused_with_a_message(self):
        from assessments import actions

        assessor, reviewer = f.assessor("author"), f.reviewer()
        a = actions.submit_assessment(
            assessor,
            f.answered(
                f.agent(slug="bot"),
                assessor,
                decision_mode="planner_executor",
                traced_policy_decision="some",
            ),
        )
        self.client.force_login(reviewer)
        response = self.client.post(
            reverse("assessments:assessment_decide", args=["bot", a.number]),
            {
                "decision": "approve",
                "lock_version": a.lock_version,
                "exception_subjects": ["audit_gap"],
                "exception_reason": "Later.",
                "exception_expires_on": "9999-12-31",
            },
        )
        self.assertContains(response, "Choose a date between", status_code=422)


class ProbeServerErrorTests(TestCase):
    """The three 500s the probe found (issue 23), each now a clear answer."""

    def test_the_dashboard_of_a_person_in_no_team_with_reading_scoped(self):
        author = f.assessor("author")
        f.approved(f.agent(slug="gapped"), author, f.reviewer("approver"))
        self.client.force_login(f.viewer())  # in no team, as a new SSO user lands
        with override_settings(TEAM_SCOPED_READING=True, TEAM_SCOPED_EDITING=True):
            response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "gapped")

    def test_a_blocked_webhook_url_in_the_admin_is_a_form_error(self):
        self.client.force_login(f.administrator())
        response = self.client.post(
            "/admin/assessments/webhookendpoint/add/",
            {
                "name": "Metadata",
                "url": "http://169.254.169.254/latest",
                "events": ["review.triggered"],
                "is_active": "on",
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "where webhooks are not sent")
        self.assertFalse(WebhookEndpoint.objects.exists())

    def test_a_system_or_link_missing_a_key_in_the_api_is_a_422_or_its_default(self):
        from tests.api_helpers import ApiClient, token_for

        admin = f.administrator()
        agent = f.agent(slug="partial")
        api = ApiClient(self.client, token_for(admin, ("read", "write")))
        response = api.patch(
            "/agents/partial", {"lock_version": agent.lock_version, "links": [{"other": "x"}]}
        )
        self.assertEqual(response.status_code, 422, response.content)
        response = api.patch(
            "/agents/partial",
            {"lock_version": agent.lock_version, "systems": [{"name": "crm"}]},
        )
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(list(agent.systems.values_list("access", flat=True)), ["read"])
