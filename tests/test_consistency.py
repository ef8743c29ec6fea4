"""One truth: every surface that shows a portfolio figure reports the same number.

A portfolio with every edge case the definitions must get right (assessments/portfolio.py)
is read through the dashboard, the review queue, the agent list, both CSV exports,
``review_queue --format json`` and the board pack's attached report-content.json.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from io import StringIO
from typing import Any

import time_machine
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments import actions, portfolio
from assessments.models import Agent, GapException, Review
from tests import factories as f
from tests import report_helpers as rh
from tests import review_helpers as h

TODAY = h.TODAY


def _csv(response: Any) -> list[dict[str, str]]:
    raw = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(raw)))


class Surfaces:
    """Reads the same figures from every surface, as a person (or a script) would."""

    def __init__(self, test: TestCase, user: Any) -> None:
        self.test = test
        self.client = test.client
        self.client.force_login(user)
        self.dashboard = self.client.get(reverse("assessments:dashboard")).context
        self.queue = self.client.get(reverse("assessments:queue")).context
        self.inventory = _csv(self.client.get(reverse("assessments:export_inventory")))
        self.versions = _csv(self.client.get(reverse("assessments:export_assessments")))
        out = StringIO()
        call_command("review_queue", "--format", "json", stdout=out)
        self.queue_json = json.loads(out.getvalue())
        issued = actions.issue_board_pack(user, {})
        self.board = json.loads(rh.attachment(issued.pdf))

    def list_count(self, **query: Any) -> int:
        response = self.client.get(reverse("assessments:agent_list"), query)
        return response.context["page"].paginator.count

    def list_rows(self) -> list[Any]:
        response = self.client.get(reverse("assessments:agent_list"))
        return list(response.context["page"].paginator.object_list)

    def active_csv(self) -> list[dict[str, str]]:
        return [r for r in self.inventory if r["status"] == "active"]

    def assert_agree(self) -> dict[str, int]:
        t = self.test
        states = self.dashboard["states"]
        counts = self.queue["counts"]
        board = self.board["figures"]
        by_state = Counter(item["state"] for item in self.queue_json)
        rows = self.list_rows()
        active = self.active_csv()

        # Reviews: overdue, triggered (not yet overdue), due within 30 days.
        for key in ("overdue", "triggered", "due"):
            t.assertEqual(states[key], counts[key], key)
            t.assertEqual(states[key], by_state[key], key)
            t.assertEqual(states[key], board[key], key)
        t.assertEqual(states["triggered_overdue"], board["triggered_overdue"])
        t.assertEqual(
            states["triggered_overdue"],
            sum(1 for i in self.queue_json if i["state"] == "overdue" and i["triggered"]),
        )
        listed_overdue = [a.slug for a in rows if a.status == "active" and a.review_overdue]
        t.assertEqual(states["overdue"], len(listed_overdue))
        t.assertEqual(states["overdue"], sum(1 for r in active if r["review_overdue"] == "yes"))
        t.assertEqual(
            sorted(listed_overdue),
            sorted(r["slug"] for r in active if r["review_overdue"] == "yes"),
        )
        t.assertEqual(
            sorted(listed_overdue),
            sorted(i["agent"] for i in self.queue_json if i["state"] == "overdue"),
        )
        t.assertEqual(
            states["triggered"],
            sum(
                1 for r in active if r["review_triggered"] == "yes" and r["review_overdue"] == "no"
            ),
        )
        t.assertEqual(
            states["triggered"],
            sum(
                1
                for a in rows
                if a.status == "active" and a.review_triggered and not a.review_overdue
            ),
        )

        # One next review date per agent: the open review's due date, everywhere.
        listed_dates = {a.slug: a.next_review for a in rows}
        for r in self.inventory:
            if r["slug"] in listed_dates:
                day = listed_dates[r["slug"]]
                t.assertEqual(r["next_review_on"], day.isoformat() if day else "", r["slug"])
        for item in self.queue_json:
            t.assertEqual(item["due_on"], listed_dates[item["agent"]].isoformat(), item["agent"])

        # Assessment states.
        assessment = self.dashboard["assessment_states"]
        csv_states = Counter(r["assessment_state"] for r in active)
        for key in portfolio.ASSESSMENT_STATES:
            t.assertEqual(assessment[key], self.list_count(assessment=key), key)
            t.assertEqual(assessment[key], csv_states[key], key)
            t.assertEqual(assessment[key], board[key], key)
        open_versions = Counter(
            r["status"] for r in self.versions if r["agent_slug"] in {a["slug"] for a in active}
        )
        t.assertEqual(assessment["pending_decision"], open_versions["submitted"])
        t.assertEqual(assessment["returned"], open_versions["returned"])
        t.assertEqual(assessment["in_draft"], open_versions["draft"])

        # Not yet assessed: no approved assessment.
        unassessed = self.dashboard["matrix"].unassessed
        t.assertEqual(unassessed, self.list_count(classification="unassessed"))
        t.assertEqual(unassessed, board["unassessed"])
        t.assertEqual(unassessed, sum(1 for r in active if not r["classification"]))
        t.assertEqual(self.dashboard["matrix"].total, board["agents"])
        t.assertEqual(self.dashboard["matrix"].total, len(active))

        # Exceptions in force and expiring; open gaps.
        in_force = sum(len([e for e in r["exceptions"].split("; ") if e]) for r in active)
        t.assertEqual(board["exceptions"], in_force)
        t.assertEqual(len(self.dashboard["expiring"]), board["expiring"])
        t.assertEqual(len(self.dashboard["expiring"]), len(self.board["expiring_exceptions"]))
        gaps = self.dashboard["gaps"]
        t.assertEqual(gaps.total, board["open_gaps"])
        t.assertEqual(len(gaps.agents), board["agents_with_open_gaps"])
        t.assertEqual(
            gaps.total, sum(len([g for g in r["open_gaps"].split("; ") if g]) for r in active)
        )

        # Framework coverage: distinct agents, parents addressed through their children.
        assessed = board["assessed"]
        for fw in self.board["frameworks"]:
            by_id = {it["id"]: it for it in fw["items"]}
            for it in fw["items"]:
                t.assertLessEqual(it["in_place"] + it["gap"], assessed, it["id"])
            for level in fw["levels"]:
                addressed, _of, total = level.rsplit(" ", 3)[-3:]
                t.assertLessEqual(int(addressed), int(total), level)
            t.assertFalse(set(fw["unmapped"]) & set(by_id))
        return {**states, **assessment, "unassessed": unassessed, "exceptions": in_force}


class EdgeCasePortfolioTests(TestCase):
    """Every edge case the issue names, in one portfolio."""

    @classmethod
    def setUpTestData(cls):
        with time_machine.travel(h.NOW, tick=False):
            who = cls.who = h.people()
            # Approved, review far away: in no review figure.
            h.assessed("steady", who)
            # Overdue by 15 days, then triggered by a new link: stays overdue.
            late = h.assessed("late", who)
            h.set_due(late, TODAY - dt.timedelta(days=15))
            h.trigger(late)
            # Triggered today: triggered, not overdue.
            h.trigger(h.assessed("changed", who))
            # Scheduled within 30 days.
            h.set_due(h.assessed("soon", who), TODAY + dt.timedelta(days=10))
            # An exception renewed by a later approval: the renewal supersedes it, even
            # though the old one runs longer; the renewal expires within 30 days.
            excepted = h.assessed("excepted", who, **rh.PLANNER_ANSWERS)
            f.approved(excepted, who["assessor"], who["reviewer"], **rh.PLANNER_ANSWERS)
            renewal = GapException.objects.filter(agent=excepted).order_by("-pk").first()
            GapException.objects.filter(pk=renewal.pk).update(
                expires_on=TODAY + dt.timedelta(days=20)
            )
            # Submitted, returned, draft, never started (none ever approved).
            a = f.answered(f.agent(who["owner"], slug="submitted"), who["assessor"])
            actions.submit_assessment(who["assessor"], a)
            a = f.answered(f.agent(who["owner"], slug="returned"), who["assessor"])
            a = actions.submit_assessment(who["assessor"], a)
            actions.return_assessment(who["reviewer"], a, comment="Check the systems.")
            actions.start_assessment(who["assessor"], f.agent(who["owner"], slug="drafty"))
            f.agent(who["owner"], slug="never")
            # Approved, then reassessed and awaiting a decision: decided, and pending.
            again = h.assessed("again", who)
            actions.submit_assessment(who["assessor"], f.answered(again, who["assessor"]))
            # Retired with history: its overdue review and exception count nowhere.
            retired = h.assessed("retired", who, **rh.PLANNER_ANSWERS)
            h.set_due(retired, TODAY - dt.timedelta(days=40))
            actions.retire_agent(who["reviewer"], retired)

    def setUp(self):
        self.enterContext(time_machine.travel(h.NOW, tick=False))

    def test_every_surface_reports_the_same_figures(self):
        figures = Surfaces(self, self.who["reviewer"]).assert_agree()
        self.assertEqual((figures["overdue"], figures["triggered"], figures["due"]), (1, 1, 1))
        self.assertEqual(figures["triggered_overdue"], 1)
        self.assertEqual([figures[k] for k in portfolio.ASSESSMENT_STATES], [2, 1, 1, 1])
        self.assertEqual(figures["unassessed"], 4)
        self.assertEqual(figures["exceptions"], 1)

    def test_never_assessed_means_no_assessment_of_any_state(self):
        self.assertEqual(
            list(Agent.objects.active().never_started().values_list("slug", flat=True)),
            ["never"],
        )
        points = " ".join(Surfaces(self, self.who["reviewer"]).board["key_points"])
        self.assertIn(
            "4 agents have no approved assessment yet: 1 awaiting a decision; 1 returned to "
            "the assessor; 1 in draft; 1 never assessed",
            points,
        )

    def test_a_triggered_review_that_was_overdue_keeps_its_date_everywhere(self):
        late = Agent.objects.get(slug="late")
        review = Review.objects.open().get(agent=late)
        self.assertEqual(review.due_on, TODAY - dt.timedelta(days=15))
        surfaces = Surfaces(self, self.who["reviewer"])
        item = next(i for i in surfaces.queue_json if i["agent"] == "late")
        self.assertEqual((item["state"], item["triggered"]), ("overdue", True))
        self.assertEqual(item["overdue_since"], review.due_on.isoformat())
        row = next(r for r in surfaces.inventory if r["slug"] == "late")
        self.assertEqual(row["next_review_on"], review.due_on.isoformat())
        self.assertEqual((row["review_overdue"], row["review_triggered"]), ("yes", "yes"))

    def test_a_superseded_exception_is_not_in_force(self):
        today = timezone.localdate()
        excepted = GapException.objects.filter(agent__slug="excepted").order_by("pk")
        self.assertEqual(excepted.count(), 2)
        self.assertEqual(
            list(GapException.objects.in_force(today).filter(agent__slug="excepted")),
            [excepted.last()],
        )
        surfaces = Surfaces(self, self.who["reviewer"])
        row = next(r for r in surfaces.inventory if r["slug"] == "excepted")
        expiry = (TODAY + dt.timedelta(days=20)).isoformat()
        self.assertEqual(row["exceptions"], f"audit_gap until {expiry}")
        self.assertEqual(
            [(e["slug"], e["expires_on"]) for e in surfaces.board["expiring_exceptions"]],
            [("excepted", expiry)],
        )

    def test_the_agent_list_highlights_past_next_review_dates(self):
        self.client.force_login(self.who["viewer"])
        response = self.client.get(reverse("assessments:agent_list"))
        self.assertContains(response, "state-badge-overdue", count=1)
        self.assertContains(response, "How these figures are counted")


class DemoDataTests(TestCase):
    def test_on_the_demo_data_every_surface_agrees(self):
        call_command("load_demo", stdout=StringIO())
        from django.contrib.auth import get_user_model

        reviewer = get_user_model().objects.get(username="reviewer")
        figures = Surfaces(self, reviewer).assert_agree()
        self.assertGreater(figures["overdue"] + figures["triggered"] + figures["due"], 0)
        self.assertGreater(figures["pending_decision"], 0)


class FiguresPageTests(TestCase):
    def test_every_surface_links_to_how_these_figures_are_counted(self):
        self.client.force_login(f.viewer())
        url = reverse("assessments:figures")
        for name in ("assessments:dashboard", "assessments:queue", "assessments:agent_list"):
            f.agent(slug=f"a-{name.split(':')[1]}")
            self.assertContains(self.client.get(reverse(name)), url, msg_prefix=name)
        page = self.client.get(url)
        for words in (
            "never assessed",
            "Overdue",
            "supersedes",
            "in place",
            "one level at a time",
        ):
            self.assertContains(page, words)
