"""Inboxes: what awaits a reviewer's decision, what was returned to an assessor, their
drafts; on the dashboard, as agent-list filters and as a navigation badge."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions
from assessments.context_processors import inbox_counts
from assessments.models import Agent, Assessment
from assessments.workflow import decisions
from tests import factories as f

DASHBOARD = reverse("assessments:dashboard")
AGENTS = reverse("assessments:agent_list")


def bulk_assessments(count: int, status: str, assessor, *, prefix: str) -> list[Assessment]:
    """``count`` agents, each with one assessment in ``status`` (written in bulk)."""
    owner, team = assessor, f.team()
    agents = Agent.objects.bulk_create(
        Agent(
            name=f"{prefix} {i:04d}", slug=f"{prefix}-{i:04d}", purpose="x", owner=owner, team=team
        )
        for i in range(count)
    )
    start = timezone.now() - dt.timedelta(days=count + 1)
    return Assessment.objects.bulk_create(
        Assessment(
            agent=agent,
            number=1,
            status=status,
            questionnaire_version=decisions.CURRENT_QUESTIONNAIRE,
            catalogue=decisions.current_catalogue(),
            assessor=assessor,
            submitted_by=assessor if status != "draft" else None,
            submitted_at=start + dt.timedelta(days=i) if status != "draft" else None,
            decided_at=start + dt.timedelta(days=i) if status == "returned" else None,
        )
        for i, agent in enumerate(agents)
    )


class StateDefinitionTests(TestCase):
    def setUp(self):
        self.ada = f.assessor()
        self.ben = f.assessor("ben")
        self.rex = f.reviewer()
        self.late = actions.submit_assessment(self.ada, f.answered(f.agent(slug="late"), self.ada))
        self.early = actions.submit_assessment(
            self.ada, f.answered(f.agent(slug="early"), self.ada)
        )
        Assessment.objects.filter(pk=self.early.pk).update(
            submitted_at=self.late.submitted_at - dt.timedelta(days=3)
        )
        returned = actions.submit_assessment(self.ada, f.answered(f.agent(slug="back"), self.ben))
        self.returned = actions.return_assessment(self.rex, returned, comment="Again.")
        self.draft = actions.start_assessment(self.ben, f.agent(slug="ben-draft"))
        self.never = f.agent(slug="never")
        self.approved = f.approved(f.agent(slug="done"), self.ada, self.rex)

    def test_awaiting_decision_is_submitted_oldest_first(self):
        self.assertEqual(list(Assessment.objects.awaiting_decision()), [self.early, self.late])

    def test_returned_to_is_the_assessor_or_the_submitter(self):
        self.assertEqual(list(Assessment.objects.returned_to(self.ben)), [self.returned])
        self.assertEqual(list(Assessment.objects.returned_to(self.ada)), [self.returned])
        self.assertEqual(list(Assessment.objects.returned_to(self.rex)), [])

    def test_drafts_of_are_the_persons_own_drafts_only(self):
        self.assertEqual(list(Assessment.objects.drafts_of(self.ben)), [self.draft])
        self.assertEqual(list(Assessment.objects.drafts_of(self.ada)), [])
        self.assertNotIn(self.returned, Assessment.objects.in_draft())

    def test_agents_by_state(self):
        def slugs(qs):
            return sorted(qs.values_list("slug", flat=True))

        agents = Agent.objects.all()
        self.assertEqual(
            slugs(agents.with_assessment_in(Assessment.objects.awaiting_decision())),
            ["early", "late"],
        )
        self.assertEqual(slugs(agents.with_assessment_in(Assessment.objects.returned())), ["back"])
        self.assertEqual(slugs(agents.never_started()), ["never"])

    def test_the_agent_list_filters_by_state(self):
        self.client.force_login(self.ben)
        cases = {
            "pending_decision": ["early", "late"],  # oldest first, not by name
            "returned": ["back"],
            "in_draft": ["ben-draft"],
            "never_started": ["never"],
            "returned_to_me": ["back"],
            "my_drafts": ["ben-draft"],
        }
        for state, expected in cases.items():
            with self.subTest(state=state):
                response = self.client.get(AGENTS, {"assessment": state})
                self.assertEqual([a.slug for a in response.context["agents"]], expected)
        response = self.client.get(AGENTS, {"assessment": "pending_decision"})
        self.assertContains(response, "v1 awaiting decision since")

    def test_the_list_links_each_row_to_its_open_assessment(self):
        self.client.force_login(self.rex)
        response = self.client.get(AGENTS, {"assessment": "returned"})
        self.assertContains(
            response, f'<a href="{self.returned.get_absolute_url()}">v1 returned to the assessor'
        )

    def test_a_junk_state_is_ignored_not_a_500(self):
        self.client.force_login(self.ben)
        response = self.client.get(AGENTS, {"assessment": "nope"})
        self.assertEqual(response.status_code, 200)


class DashboardTrayTests(TestCase):
    def setUp(self):
        self.ada = f.assessor()
        self.rex = f.reviewer()

    def trays(self, user):
        self.client.force_login(user)
        response = self.client.get(DASHBOARD)
        return response, {t.key: t for t in response.context["inbox_trays"]}

    def test_a_reviewer_sees_what_awaits_a_decision_oldest_first(self):
        bulk_assessments(10, "submitted", self.ada, prefix="wait")
        response, trays = self.trays(self.rex)
        awaiting = trays["pending_decision"]
        self.assertEqual(awaiting.total, 10)
        self.assertEqual(
            [a.agent.slug for a in awaiting.items], [f"wait-{i:04d}" for i in range(8)]
        )
        self.assertContains(response, "2 more: see them all")
        self.assertContains(response, f'href="{AGENTS}?assessment=pending_decision"')

    def test_an_assessor_sees_what_was_returned_to_them_and_their_drafts(self):
        agent = f.agent(slug="bot", name="Bot")
        submitted = actions.submit_assessment(self.ada, f.answered(agent, self.ada))
        actions.return_assessment(self.rex, submitted, comment="Name the approver.")
        actions.start_assessment(self.ada, f.agent(slug="draft-bot", name="Draft bot"))
        actions.start_assessment(f.assessor("ben"), f.agent(slug="bens", name="Bens bot"))
        response, trays = self.trays(self.ada)
        self.assertNotIn("awaiting_decision", trays)
        self.assertEqual([a.agent.slug for a in trays["returned_to_me"].items], ["bot"])
        self.assertEqual([a.agent.slug for a in trays["my_drafts"].items], ["draft-bot"])
        self.assertContains(response, "Name the approver.")
        self.assertNotContains(response, "Bens bot")

    def test_empty_trays_say_what_to_do(self):
        response, _trays = self.trays(self.rex)
        self.assertContains(response, "Nothing awaits a decision")
        self.assertContains(response, "Nothing returned to you")
        self.assertContains(response, "Start an assessment from an agent&#x27;s page")
        self.assertContains(response, f"{AGENTS}?assessment=never_started")

    def test_a_viewer_has_no_trays(self):
        _response, trays = self.trays(f.viewer())
        self.assertEqual(trays, {})

    def test_the_dashboard_takes_the_same_queries_for_5_and_500(self):
        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                self.client.get(DASHBOARD)
            return len(ctx.captured_queries)

        self.client.force_login(self.rex)
        for status, prefix in (("submitted", "s"), ("returned", "r"), ("draft", "d")):
            bulk_assessments(5, status, self.rex, prefix=f"small-{prefix}")
        # The figures are recomputed as background work after the writes (the immediate
        # backend runs it inside the next read): one read first, then the page's own count.
        count()
        small = count()
        for status, prefix in (("submitted", "s"), ("returned", "r"), ("draft", "d")):
            bulk_assessments(495, status, self.rex, prefix=f"large-{prefix}")
        count()
        with self.assertNumQueries(small):
            response = self.client.get(DASHBOARD)
        trays = {t.key: t for t in response.context["inbox_trays"]}
        self.assertEqual({k: t.total for k, t in trays.items()}, dict.fromkeys(trays, 500))


class AgentListQueryTests(TestCase):
    def test_the_filtered_list_takes_the_same_queries_for_5_and_500(self):
        reviewer = f.reviewer()
        self.client.force_login(reviewer)
        bulk_assessments(5, "submitted", reviewer, prefix="small")
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(AGENTS, {"assessment": "pending_decision"})
        small = len(ctx.captured_queries)
        bulk_assessments(495, "submitted", reviewer, prefix="large")
        with self.assertNumQueries(small):
            response = self.client.get(AGENTS, {"assessment": "pending_decision"})
        self.assertEqual(response.context["page"].paginator.count, 500)


class NavigationBadgeTests(TestCase):
    def test_reviewers_see_how_many_assessments_await_a_decision(self):
        ada, rex = f.assessor(), f.reviewer()
        for n in range(3):
            actions.submit_assessment(ada, f.answered(f.agent(slug=f"bot-{n}"), ada))
        self.client.force_login(rex)
        response = self.client.get(reverse("assessments:catalogue"))
        self.assertContains(response, 'id="nav-awaiting">Awaiting decision <span')
        self.assertContains(response, '>3<span class="visually-hidden"> assessments submitted')
        self.client.force_login(ada)
        response = self.client.get(reverse("assessments:catalogue"))
        self.assertNotContains(response, 'id="nav-awaiting"')

    def test_both_badges_cost_one_query(self):
        rex = f.reviewer()
        with self.assertNumQueries(1):
            counts = inbox_counts(rex, reviewer=True)
        self.assertEqual(counts, {"unread": 0, "awaiting": 0})

    def test_an_htmx_fragment_does_not_count_them(self):
        rex = f.reviewer()
        self.client.force_login(rex)
        with CaptureQueriesContext(connection) as ctx:
            self.client.get(AGENTS, headers={"HX-Request": "true", "HX-Target": "agent-results"})
        self.assertFalse(
            [q for q in ctx.captured_queries if "assessments_notification" in q["sql"]]
        )
