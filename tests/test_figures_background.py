"""The portfolio figures are computed in the background, never inside a web request
(assessments/portfolio/stored.py): a change marks them changed and queues their computation;
pages show the last figures with their time until the new ones land."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import time_machine
from django.db import connection
from django.tasks import default_task_backend
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions, portfolio
from assessments.models import Agent, AgentOwner, PortfolioSnapshot
from assessments.portfolio import stored as figures
from tests import factories as f

DUMMY = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
DASHBOARD = reverse("assessments:dashboard")
STATUS = reverse("assessments:figures_status")
NOW = dt.datetime(2026, 11, 2, 14, 2, tzinfo=dt.UTC)


def queued() -> list[dict]:
    """The figure computations queued on the dummy backend (their keyword arguments)."""
    return [
        r.kwargs for r in default_task_backend.results if r.task.name == "refresh_portfolio_figures"
    ]


def never_in_a_request():
    """Computing the figures raises: a request that computes them fails the test."""
    return mock.patch.object(
        portfolio, "_compute", side_effect=AssertionError("figures computed in a request")
    )


@override_settings(TASKS=DUMMY, TIME_ZONE="UTC")
class NoRequestComputesTests(TestCase):
    """With a tasks backend that only queues (as the database worker's does), every page
    answers from the stored figures; the computation runs only as the queued task."""

    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(NOW, tick=False))
        default_task_backend.clear()
        self.reviewer = f.reviewer()
        self.assessor = f.assessor()
        self.agent = f.agent(slug="bot", name="Bot")
        self.submitted = actions.submit_assessment(
            self.assessor, f.answered(self.agent, self.assessor)
        )
        self.client.force_login(self.reviewer)

    def run_queued(self) -> None:
        for kwargs in queued():
            figures.refresh(**kwargs)
        default_task_backend.clear()

    def test_a_fresh_install_says_the_figures_are_being_computed_and_queues_them_once(self):
        with never_in_a_request():
            page = self.client.get(DASHBOARD)
            self.assertContains(page, "Figures being computed")
            self.assertContains(page, f'hx-get="{STATUS}?shown="')
            self.client.get(DASHBOARD)
            for name in ("assessments:queue", "assessments:catalogue"):
                self.assertEqual(self.client.get(reverse(name)).status_code, 200)
        self.assertEqual(queued(), [{"scope": "", "requested_at": NOW.isoformat()}])
        self.run_queued()
        with never_in_a_request():
            status = self.client.get(STATUS, {"shown": ""}, headers={"HX-Request": "true"})
            self.assertEqual(status["HX-Trigger"], "figures-updated")
            self.assertNotContains(status, "hx-trigger")  # polling stops
            panel = self.client.get(
                DASHBOARD, headers={"HX-Request": "true", "HX-Target": "portfolio-figures"}
            )
        self.assertContains(panel, 'id="portfolio-figures"')
        self.assertNotContains(panel, "<html")
        self.assertEqual(panel.context["matrix"].total, 1)
        self.assertEqual(panel.context["assessment_states"]["pending_decision"], 1)

    def test_after_an_approval_pages_show_the_last_figures_as_of_their_time_until_new_land(
        self,
    ):
        figures.refresh()
        self.traveller.move_to(NOW + dt.timedelta(minutes=3))
        with never_in_a_request(), self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                reverse("assessments:assessment_decide", args=["bot", self.submitted.number]),
                {"decision": "approve", "lock_version": self.submitted.lock_version},
            )
        self.assertEqual(response.status_code, 302)
        # The approval queued one computation of every stored scope.
        self.assertEqual(len(queued()), 1)
        self.assertIsNone(queued()[0].get("scope"))
        with never_in_a_request(), CaptureQueriesContext(connection) as read:
            page = self.client.get(DASHBOARD)
            queue = self.client.get(reverse("assessments:queue"))
            catalogue = self.client.get(reverse("assessments:catalogue"))
        # Queued already: the readers write nothing to the stored figures (on SQLite a
        # write would wait for the worker's).
        written = [q["sql"] for q in read.captured_queries if "portfoliosnapshot" in q["sql"]]
        self.assertFalse([sql for sql in written if not sql.startswith("SELECT")], written)
        # The last figures, labelled with their time: the assessment still awaits.
        self.assertContains(page, "Figures as of")
        self.assertContains(page, ">14:02</time>, updating")
        self.assertEqual(page.context["assessment_states"]["pending_decision"], 1)
        self.assertContains(queue, ">14:02</time>, updating")
        self.assertContains(catalogue, ">14:02</time>, updating")
        self.assertEqual(len(queued()), 1)  # already queued: the readers queue nothing more
        shown = page.context["stored"].computed_at.isoformat()
        with never_in_a_request():
            waiting = self.client.get(STATUS, {"shown": shown}, headers={"HX-Request": "true"})
        self.assertNotIn("HX-Trigger", waiting)
        self.assertContains(waiting, 'hx-trigger="every 2s"')
        self.run_queued()
        with never_in_a_request():
            landed = self.client.get(STATUS, {"shown": shown}, headers={"HX-Request": "true"})
            page = self.client.get(DASHBOARD)
        self.assertEqual(landed["HX-Trigger"], "figures-updated")
        self.assertContains(landed, ">14:05</time>")
        self.assertNotContains(landed, "updating")
        self.assertEqual(page.context["assessment_states"]["pending_decision"], 0)
        self.assertEqual(page.context["assessment_states"]["decided"], 1)

    def test_who_answers_for_the_agents_is_a_stored_figure_too(self):
        figures.refresh()
        default_task_backend.clear()
        counting = mock.patch(
            "assessments.portfolio.accountability.accountability_counts",
            side_effect=AssertionError("accountability counted in a request"),
        )
        with self.captureOnCommitCallbacks(execute=True):
            Agent.objects.filter(pk=self.agent.pk).update(orphaned_at=timezone.now())
        self.assertEqual(len(queued()), 1)
        with never_in_a_request(), counting:
            page = self.client.get(DASHBOARD)
        self.assertEqual(page.context["accountability"].orphaned, 0)  # the last figures
        self.assertContains(page, "updating")
        self.run_queued()
        with never_in_a_request(), counting:
            page = self.client.get(DASHBOARD)
        shown = page.context["accountability"]
        self.assertEqual(shown.orphaned, 1)
        self.assertEqual([a.slug for a in shown.orphaned_agents], ["bot"])
        self.assertContains(page, 'id="accountability"')
        # Naming a successor marks the figures changed: "with a single owner" moves.
        with self.captureOnCommitCallbacks(execute=True):
            AgentOwner.objects.create(agent=self.agent, person=self.assessor, position=1)
        self.assertEqual(len(queued()), 1)
        self.run_queued()
        with never_in_a_request(), counting:
            page = self.client.get(DASHBOARD)
        self.assertEqual(page.context["accountability"].single_owner, shown.single_owner - 1)

    def test_a_team_scoped_reader_gets_their_teams_figures_from_the_background_too(self):
        team = f.team("Payments")
        self.agent.team = team
        self.agent.save()
        f.agent(slug="other", name="Other")
        viewer = f.viewer()
        team.members.add(viewer)
        self.client.force_login(viewer)
        with self.settings(TEAM_SCOPED_READING=True), never_in_a_request():
            self.assertContains(self.client.get(DASHBOARD), "Figures being computed")
        scope = f"teams:{team.pk}"
        self.assertIn({"scope": scope, "requested_at": NOW.isoformat()}, queued())
        self.run_queued()
        with self.settings(TEAM_SCOPED_READING=True), never_in_a_request():
            page = self.client.get(DASHBOARD)
        self.assertEqual(page.context["matrix"].total, 1)
        # A change queues every stored scope again, the team's included.
        with self.captureOnCommitCallbacks(execute=True):
            f.agent(slug="third", name="Third", team=team)
        self.assertEqual(figures.refresh(**queued()[0]), ["", scope])

    def test_a_worker_that_stopped_is_asked_again_after_a_while(self):
        figures.refresh()
        figures.changed()
        with never_in_a_request():
            self.client.get(DASHBOARD)
            self.client.get(DASHBOARD)
        self.assertEqual(len(queued()), 1)
        self.traveller.shift(figures.PATIENCE + dt.timedelta(seconds=1))
        with never_in_a_request():
            self.client.get(DASHBOARD)
        self.assertEqual(len(queued()), 2)


@override_settings(TIME_ZONE="UTC")
class ImmediateBackendTests(TestCase):
    """The test suite's immediate backend runs the queued task at once: a page reads
    figures computed for it, as before."""

    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(NOW, tick=False))
        self.viewer = f.viewer()
        self.client.force_login(self.viewer)

    def test_a_change_is_in_the_next_page_and_autosaves_leave_the_figures_alone(self):
        self.assertEqual(self.client.get(DASHBOARD).context["matrix"].total, 0)
        agent = f.agent(slug="new", name="New")
        self.assertIsNotNone(PortfolioSnapshot.objects.get(scope="").changed_at)
        page = self.client.get(DASHBOARD)
        self.assertEqual(page.context["matrix"].total, 1)
        self.assertFalse(page.context["stored"].updating)
        self.assertNotContains(page, "updating")
        self.assertNotContains(page, 'hx-trigger="every 2s"')
        assessor = f.assessor()
        draft = actions.start_assessment(assessor, agent)
        self.assertEqual(self.client.get(DASHBOARD).context["assessment_states"]["in_draft"], 1)
        actions.save_answers(
            assessor,
            draft,
            {"decision_mode": "context_driven"},
            expected_version=draft.lock_version,
        )
        self.assertIsNone(PortfolioSnapshot.objects.get(scope="").changed_at)

    def test_figures_of_another_day_or_older_than_their_maximum_age_are_computed_again(self):
        self.client.get(DASHBOARD)
        stored = PortfolioSnapshot.objects.get(scope="")
        PortfolioSnapshot.objects.update(figures={**stored.figures, "expiring_total": 99})
        self.assertEqual(self.client.get(DASHBOARD).context["expiring_total"], 99)
        self.traveller.shift(figures.MAX_AGE + dt.timedelta(seconds=1))
        self.assertEqual(self.client.get(DASHBOARD).context["expiring_total"], 0)
        PortfolioSnapshot.objects.update(figures={**stored.figures, "expiring_total": 99})
        self.traveller.shift(dt.timedelta(days=1) - figures.MAX_AGE)
        self.client.force_login(self.viewer)  # the session of yesterday has expired
        page = self.client.get(DASHBOARD)
        self.assertEqual(page.context["expiring_total"], 0)
        self.assertEqual(PortfolioSnapshot.objects.get(scope="").day, timezone.localdate())

    def test_a_computation_stores_nothing_over_newer_figures(self):
        figures.refresh()
        newer = PortfolioSnapshot.objects.get(scope="").computed_at + dt.timedelta(seconds=1)
        PortfolioSnapshot.objects.update(computed_at=newer)
        figures.refresh()
        self.assertEqual(PortfolioSnapshot.objects.get(scope="").computed_at, newer)
