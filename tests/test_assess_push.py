"""``assess --push``: a pipeline sends manifests to a running server (a live test server
here), and a reviewer's token approves what it submitted."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import LiveServerTestCase
from django.utils import timezone

from assessments.models import Agent, Assessment, AuditEvent
from tests import factories as f
from tests.api_helpers import token_for

FIXTURE = Path(__file__).parent / "fixtures" / "invoice-triage.yaml"


class AssessPushTests(LiveServerTestCase):
    def setUp(self):
        f.ensure_reference_data()
        self.assessor = f.user("finance-platform", "assessor")  # the fixture's owner e-mail
        self.team = f.team("Finance")
        self.token = token_for(self.assessor, ("read", "write"))

    def push(self, *extra: str, token: str | None = None) -> tuple[str, str]:
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "assess",
            str(FIXTURE),
            "--push",
            self.live_server_url,
            "--token",
            token or self.token,
            *extra,
            stdout=out,
            stderr=err,
        )
        return out.getvalue(), err.getvalue()

    def test_push_creates_the_agent_and_draft_then_submit_and_a_reviewer_approves(self):
        _out, err = self.push("--team", "finance")
        self.assertIn("invoice-triage created, assessment v1 draft", err)
        self.assertIn("payments-agent", err)  # not in the inventory: a note, not a failure
        agent = Agent.objects.get(slug="invoice-triage")
        self.assertEqual(agent.owner, self.assessor)
        self.assertEqual(
            sorted(agent.systems.values_list("name", "access")),
            [("document-store", "read"), ("erp", "write")],
        )
        _out, err = self.push("--submit")
        self.assertIn("updated, assessment v1 submitted", err)
        reviewer = f.reviewer()
        from django.test import Client

        from tests.api_helpers import ApiClient

        approver = ApiClient(Client(), token_for(reviewer, ("read", "review")))
        read = {"lock_version": Assessment.objects.get(agent=agent).lock_version}
        refused = approver.post("/agents/invoice-triage/assessments/1/approve", read)
        self.assertIn("audit gap blocks approval", refused.json()["detail"])
        approved = approver.post(
            "/agents/invoice-triage/assessments/1/approve",
            {
                **read,
                "exception_subjects": ["audit_gap"],
                "exception_reason": "Tracing lands next quarter.",
                "exception_expires_on": (timezone.localdate() + dt.timedelta(days=60)).isoformat(),
            },
        )
        self.assertEqual(approved.status_code, 200, approved.content)
        self.assertEqual(Assessment.objects.get(agent=agent).status, "approved")
        self.assertEqual(
            AuditEvent.objects.filter(verb="assessment.submit").latest("id").actor, self.assessor
        )

    def test_a_refused_push_exits_3_and_changes_nothing(self):
        with self.assertRaises(CommandError) as caught:
            self.push("--team", "finance", token="aia_not-a-real-token")
        self.assertEqual(caught.exception.returncode, 3)
        viewer_token = token_for(f.viewer(), ("read",))
        with self.assertRaises(CommandError) as caught:
            self.push("--team", "finance", token=viewer_token)
        self.assertEqual(caught.exception.returncode, 3)
        with self.assertRaises(CommandError) as caught:
            self.push()  # a new agent needs a team
        self.assertEqual(caught.exception.returncode, 3)
        self.assertFalse(Agent.objects.exists())

    def test_an_invalid_file_is_still_exit_2_and_nothing_is_sent(self):
        bad = Path(self.id().replace(".", "_") + ".yaml")
        try:
            bad.write_text("agent: {name: x, slug: x}\nanswers: {decision_mode: vibes}\n")
            with self.assertRaises(CommandError) as caught:
                call_command(
                    "assess",
                    str(bad),
                    "--push",
                    self.live_server_url,
                    "--token",
                    self.token,
                    stderr=io.StringIO(),
                )
            self.assertEqual(caught.exception.returncode, 2)
        finally:
            bad.unlink()
        self.assertFalse(Agent.objects.exists())

    def test_an_unreachable_server_is_a_refused_push(self):
        with self.assertRaises(CommandError) as caught:
            out, err = io.StringIO(), io.StringIO()
            call_command(
                "assess",
                str(FIXTURE),
                "--push",
                "http://127.0.0.1:9",
                "--token",
                self.token,
                stdout=out,
                stderr=err,
            )
        self.assertEqual(caught.exception.returncode, 3)
