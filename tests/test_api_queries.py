"""List endpoints of the API take the same number of queries for 5 rows and for 500."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assessments.models import Agent, Assessment, AuditEvent, System
from assessments.workflow import decisions
from tests import factories as f
from tests import review_helpers as h
from tests.api_helpers import ApiClient, token_for


class ListQueryCountTests(TestCase):
    def setUp(self):
        self.reviewer = f.reviewer()
        self.team = f.team()
        self.api = ApiClient(self.client, token_for(self.reviewer, ("read",)))
        self.api.get("/catalogue")  # the first call also stamps the token's last use

    def seed(self, count: int, prefix: str) -> None:
        h.bulk_queue(count, self.reviewer, self.team, timezone.localdate(), prefix=prefix)
        agents = list(Agent.objects.filter(slug__startswith=prefix))
        System.objects.bulk_create(
            System(agent=a, name=f"sys-{j}", access="write") for a in agents for j in range(2)
        )
        catalogue = decisions.current_catalogue()
        Assessment.objects.bulk_create(
            Assessment(
                agent=a,
                number=1,
                questionnaire_version="1",
                catalogue=catalogue,
                assessor=self.reviewer,
                answers={},
            )
            for a in agents
        )
        for i in range(count):  # audit events through the one door, so the chain holds
            from assessments.records import audit

            audit.record("test.event", actor=self.reviewer, changes={"n": i})

    def queries(self, path: str, **query) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = self.api.get(path, **query)
        self.assertEqual(response.status_code, 200, response.content[:300])
        return len(ctx.captured_queries)

    def test_each_list_takes_the_same_queries_for_5_and_500_rows(self):
        lists = {
            "/agents": {},
            "/assessments": {},
            "/queue": {},
            "/audit-events": {"limit": "500"},
        }
        self.seed(5, "small")
        small = {path: self.queries(path, **q) for path, q in lists.items()}
        self.seed(495, "large")
        self.assertEqual(Agent.objects.count(), 500)
        self.assertGreaterEqual(AuditEvent.objects.count(), 500)
        for path, query in lists.items():
            with self.subTest(path=path):
                self.assertEqual(self.queries(path, **query), small[path])
        # The pages are full: the counts are not low because the lists are short.
        self.assertEqual(len(self.api.get("/agents").json()["results"]), 50)
        self.assertEqual(len(self.api.get("/audit-events", limit="500").json()["events"]), 500)
