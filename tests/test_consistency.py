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
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import actions, figures, portfolio
from assessments.models import Agent, GapException, Review, portfolio_changed
from assessments.reports import exports
from tests import factories as f
from tests import report_helpers as rh
from tests import review_helpers as h

TODAY = h.TODAY


# The exports' headers are words; the tests read cells by column key.
KEYS = {label: key for key, label in exports.INVENTORY_COLUMNS + exports.ASSESSMENT_COLUMNS}


def _csv(response: Any) -> list[dict[str, str]]:
    raw = b"".join(response.streaming_content).decode("utf-8-sig")
    return [{KEYS.get(k, k): v for k, v in row.items()} for row in csv.DictReader(io.StringIO(raw))]


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

    def test_the_board_pack_names_where_the_definitions_are(self):
        board = Surfaces(self, self.who["reviewer"]).board
        self.assertTrue(board["figures_url"].endswith(reverse("assessments:figures")))

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

    def test_the_agent_page_shows_the_open_reviews_due_date(self):
        self.client.force_login(self.who["viewer"])
        response = self.client.get(reverse("assessments:agent_detail", args=["late"]))
        due = TODAY - dt.timedelta(days=15)
        self.assertContains(response, f'<time datetime="{due.isoformat()}" class="text-danger')
        self.assertContains(response, "state-badge-overdue")
        self.assertContains(response, "state-badge-triggered")
        self.assertContains(response, "overdue since")

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
        self.assertContains(self.client.get(reverse("assessments:reports")), url)
        page = self.client.get(url)
        for words in (
            "never assessed",
            "Overdue",
            "supersedes",
            "in place",
            "one level at a time",
        ):
            self.assertContains(page, words)


def _bulk_portfolio(count: int, owner: Any) -> None:
    """``count`` active agents in every assessment and review state, with bulk_create."""
    from assessments import decisions
    from assessments.models import Assessment

    team = f.team()
    agents = Agent.objects.bulk_create(
        Agent(name=f"Bulk {i:04d}", slug=f"bulk-{i:04d}", purpose="x", owner=owner, team=team)
        for i in range(count)
    )
    statuses = ["draft", "submitted", "returned", None]
    Assessment.objects.bulk_create(
        Assessment(
            agent=agent,
            number=1,
            status=statuses[i % 4],
            questionnaire_version=decisions.CURRENT_QUESTIONNAIRE,
            catalogue=decisions.current_catalogue(),
            answers={"decision_mode": "fixed_script"} if i % 8 else {},
            assessor=owner,
        )
        for i, agent in enumerate(agents)
        if statuses[i % 4]
    )
    now = timezone.now()
    Review.objects.bulk_create(
        Review(
            agent=agent,
            due_on=TODAY + dt.timedelta(days=(i % 3 - 1) * 10),
            triggered_at=now if i % 2 else None,
        )
        for i, agent in enumerate(agents)
    )


class ListQueryCountTests(TestCase):
    """The list pages read every figure in a fixed number of queries (issue 17)."""

    def setUp(self):
        self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.viewer = f.viewer()
        self.client.force_login(self.viewer)
        # The stored figures exist (a fresh install's first read makes their row).
        figures.refresh()

    def queries(self, name: str, count: int, **query: Any) -> int:
        Review.objects.all().delete()
        from assessments.models import Assessment

        Assessment.objects.all().delete()
        Agent.objects.all().delete()
        _bulk_portfolio(count, self.viewer)
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(reverse(name), query)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def test_agent_list_dashboard_and_queue_take_the_same_queries_for_5_and_500_agents(self):
        for name, query in [
            ("assessments:agent_list", {}),
            ("assessments:agent_list", {"assessment": "in_draft"}),
            ("assessments:agent_list", {"sort": "next_review_on"}),
            ("assessments:dashboard", {}),
            ("assessments:queue", {}),
        ]:
            with self.subTest(name=name, query=query):
                small = self.queries(name, 5, **query)
                self.assertEqual(small, self.queries(name, 500, **query))
                portfolio_changed()  # the dashboard's next request computes its figures again
                with self.assertNumQueries(small):
                    self.client.get(reverse(name), query)

    def test_undecided_drafts_show_their_headline_on_the_list(self):
        _bulk_portfolio(8, self.viewer)
        response = self.client.get(reverse("assessments:agent_list"), {"assessment": "in_draft"})
        self.assertContains(response, "undecided-badge", count=2)
        self.assertContains(response, "Undecided — ")


class CoverageDefinitionTests(TestCase):
    """Addressed means a mapped control is in place; parents through their children;
    counted level by level out of the framework's real totals."""

    def setUp(self):
        from assessments import engine

        self.data = engine.load_catalogue().to_dict()
        self.nist = next(fw for fw in self.data["frameworks"] if fw["key"] == "nist_ai_rmf_1_0")
        # A control mapped to a NIST subcategory.
        self.control = next(
            c
            for c in self.data["controls"]
            if any(
                m["framework"] == "nist_ai_rmf_1_0" and m["item"].count(".") == 1
                for m in c["mappings"]
            )
        )
        self.sub = next(
            m["item"]
            for m in self.control["mappings"]
            if m["framework"] == "nist_ai_rmf_1_0" and m["item"].count(".") == 1
        )

    def test_the_real_totals_per_level_are_catalogue_data(self):
        self.assertEqual(
            self.nist["levels"],
            [
                {"name": "functions", "total": 4},
                {"name": "categories", "total": 19},
                {"name": "subcategories", "total": 72},
            ],
        )

    def test_a_control_in_place_addresses_its_items_and_their_parents(self):
        addressed = portfolio.addressed_items(
            self.data, [{"id": self.control["id"], "status": "in_place"}]
        )["nist_ai_rmf_1_0"]
        category = self.sub.split(".")[0]
        function = category.split(" ")[0]
        self.assertTrue({self.sub, category, function} <= addressed)
        levels = portfolio.level_coverage(self.nist, addressed)
        self.assertEqual([lv.name for lv in levels], ["functions", "categories", "subcategories"])
        self.assertEqual(levels[0].addressed, len({i for i in addressed if " " not in i}))
        self.assertTrue(
            levels[2].text.startswith("subcategories ") and levels[2].text.endswith(" of 72")
        )
        for level in levels:
            self.assertLessEqual(level.addressed, level.total)

    def test_a_control_that_is_a_gap_addresses_nothing(self):
        for status in ("gap", "unknown"):
            self.assertEqual(
                portfolio.addressed_items(
                    self.data, [{"id": self.control["id"], "status": status}]
                ),
                {},
            )


class AssessmentReportCoverageTests(TestCase):
    def test_the_report_counts_only_items_a_control_in_place_addresses(self):
        from assessments import decisions
        from assessments.reports.assessment import report_content

        who = rh.people()
        assessment = rh.approved_planner(who["assessor"], who["reviewer"])
        content = report_content(assessment)
        data = decisions.catalogue_data(assessment.catalogue)
        mapped = {
            c["id"]: {(m["framework"], m["item"]) for m in c["mappings"]} for c in data["controls"]
        }
        statuses = {c["id"]: c["status"] for c in assessment.result["controls"]}
        in_place = set().union(*(mapped[c] for c, s in statuses.items() if s == "in_place"))
        gap_only = set().union(*(mapped[c] for c, s in statuses.items() if s == "gap")) - in_place
        self.assertTrue(gap_only, "the planner has a gap whose items nothing else addresses")
        names = {fw["short_name"]: fw["key"] for fw in data["frameworks"]}
        listed = {
            (names[row["framework"]], item) for row in content["coverage"] for item in row["items"]
        }
        self.assertFalse(listed & gap_only)
        nist = next(row for row in content["coverage"] if row["framework"] == "NIST AI RMF 1.0")
        self.assertEqual(len(nist["levels"]), 3)
        self.assertTrue(nist["levels"][2].endswith("of 72"))
