"""One truth: every surface that shows a portfolio figure reports the same number.

A portfolio with every edge case the definitions must get right (assessments/portfolio/)
is read through the dashboard, the review queue, the agent list, both CSV exports,
``review_queue --format json`` and the board pack's attached report-content.json.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
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

from assessments import actions, portfolio
from assessments.models import (
    Agent,
    Assessment,
    GapException,
    Notification,
    Review,
    portfolio_changed,
)
from assessments.portfolio import stored as figures
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
        self.register = board_register(issued.pdf)

    def list_count(self, **query: Any) -> int:
        response = self.client.get(reverse("assessments:agent_list"), query)
        return response.context["page"].paginator.count

    def list_rows(self) -> list[Any]:
        # Every page's rows, as shown.
        url = reverse("assessments:agent_list")
        first = self.client.get(url)
        rows = list(first.context["agents"])
        for number in range(2, first.context["page"].paginator.num_pages + 1):
            rows += list(self.client.get(url, {"page": number}).context["agents"])
        self.test.assertEqual(len(rows), first.context["page"].paginator.count)
        return rows

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
        t.assertEqual(unassessed, board["undecided"])
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
        t.assertEqual(gaps.agent_count, board["agents_with_open_gaps"])
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
        assert_board_pack_agrees(t, self.board, self.register, self.dashboard)
        return {**states, **assessment, "unassessed": unassessed, "exceptions": in_force}


def board_register(pdf: bytes) -> list[dict[str, str]]:
    """The board pack's attached register, each row by column key."""
    from assessments.reports.board import REGISTER_ATTACHMENT, REGISTER_COLUMNS

    keys = {header: key for key, header in REGISTER_COLUMNS}
    text = rh.attachment(pdf, REGISTER_ATTACHMENT).decode("utf-8-sig")
    return [{keys[k]: v for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _items(cell: str) -> list[str]:
    return [x for x in cell.split("; ") if x]


def register_recount(register: list[dict[str, str]]) -> dict[str, Any]:
    """Every figure of the board pack, counted again from its attached register alone."""
    from assessments.engine import FLAG_TITLES

    n = Counter()
    for r in register:
        n["agents"] += 1
        n["assessed"] += bool(r["tier"])
        n["undecided"] += not r["classification"]
        n[r["state"]] += 1
        n[r["classification"]] += 1
        n[f"tier{r['tier']}"] += 1
        n[r["review_state"]] += 1
        n["triggered_overdue"] += r["review_state"] == "overdue" and r["review_triggered"] == "yes"
        n["awaiting"] += r["in_progress_status"] == "submitted"
        gaps = _items(r["open_gaps"])
        n["open_gaps"] += len(gaps)
        n["agents_with_open_gaps"] += bool(gaps)
        exceptions = [x.split(" until ")[0] for x in _items(r["exceptions"])]
        n["exceptions"] += len(exceptions)
        n["exceptions_on_flags"] += sum(1 for x in exceptions if x in FLAG_TITLES)
        n["expiring"] += int(r["expiring"])
        n["expired"] += len(_items(r["expired"]))
        n["first_decisions"] += r["first_decision"] == "yes"
        moves = _items(r["reclassified"])
        n["reclassified"] += len(moves)
        n["reclassified_agents"] += bool(moves)
        n["reclassified_up"] += int(r["reclassified_up"])
        n["to_ratify"] += int(r["to_ratify"])
        n["orphaned"] += bool(r["orphaned_on"])
        n["inactive"] += r["inactive"] == "yes"
    assessed = n["assessed"]
    figures = {
        "agents": n["agents"],
        "assessed": assessed,
        "undecided": n["undecided"],
        "never_assessed": n["never_started"],
        "never_started": n["never_started"],
        "pending_decision": n["pending_decision"],
        "returned": n["returned"],
        "in_draft": n["in_draft"],
        "agent_identity": n["agent_identity"],
        "agent_identity_pct": f"{round(100 * n['agent_identity'] / assessed)}%"
        if assessed
        else "0%",
        "machine_identity": n["machine_identity"],
        "critical": n["tier4"],
        "high": n["tier3"],
        "overdue": n["overdue"],
        "due": n["due"],
        "triggered": n["triggered"],
        "triggered_overdue": n["triggered_overdue"],
        **{
            key: n[key]
            for key in (
                "agents_with_open_gaps",
                "open_gaps",
                "exceptions",
                "exceptions_on_flags",
                "expiring",
                "expired",
                "reclassified",
                "reclassified_agents",
                "reclassified_up",
                "to_ratify",
                "first_decisions",
                "awaiting",
            )
        },
    }
    headline = {
        key: figures[key]
        for key in (
            "agents",
            "never_assessed",
            "undecided",
            "critical",
            "high",
            "overdue",
            "agents_with_open_gaps",
            "open_gaps",
            "exceptions",
            "expiring",
            "reclassified_up",
        )
    }
    headline["orphaned"], headline["inactive"] = n["orphaned"], n["inactive"]
    headline["tiers"] = {str(t): n[f"tier{t}"] for t in (1, 2, 3, 4)}
    return {"figures": figures, "headline": headline}


def assert_board_pack_agrees(t: Any, board: dict[str, Any], register: list, dashboard: Any) -> None:
    """Every number of the pack's report-content.json equals its recount from the attached
    register, and the dashboard's figure where the dashboard shows it."""
    recount = register_recount(register)
    # Every figure has a recount: a new figure without one fails here.
    t.assertEqual(set(board["figures"]), set(recount["figures"]))
    t.assertEqual(set(board["headline"]), set(recount["headline"]))
    t.assertEqual(board["figures"], recount["figures"])
    t.assertEqual(board["headline"], recount["headline"])
    trends = {s["key"]: s["points"] for s in board["trend"]["series"]}
    for row in board["status"]:
        t.assertEqual(row["value"], board["headline"][row["key"]], row["key"])
        # Each headline figure's trend ends with this pack's figure, oldest point first.
        t.assertEqual(trends[row["key"]][-1]["value"], row["value"], row["key"])
        days = [p["on"] for p in trends[row["key"]]]
        t.assertEqual(days, sorted(days), row["key"])
    t.assertEqual(board["decisions"]["awaiting_total"], board["figures"]["awaiting"])
    t.assertEqual(board["decisions"]["ratify_total"], board["figures"]["to_ratify"])
    t.assertEqual(board["decisions"]["expiring"], board["figures"]["expiring"])
    t.assertEqual(sum(row["total"] for row in board["distribution"]), board["figures"]["agents"])
    t.assertEqual(board["distribution"][-1]["total"], board["figures"]["undecided"])
    t.assertEqual(
        sum(x["count"] for x in board["exceptions_by_subject"]),
        len([x for r in register for x in _items(r["exceptions"])]),
    )
    t.assertEqual(sum(g["open"] for g in board["gaps"]), board["figures"]["open_gaps"])
    t.assertEqual(sum(tm["total"] for tm in board["teams"]), board["figures"]["agents"])
    t.assertEqual(sum(tm["overdue"] for tm in board["teams"]), board["figures"]["overdue"])
    # The dashboard's figures, for the whole portfolio.
    matrix = dashboard["matrix"]
    states = dashboard["states"]
    assessment = dashboard["assessment_states"]
    gaps = dashboard["gaps"]
    figures = board["figures"]
    t.assertEqual(figures["agents"], matrix.total)
    t.assertEqual(figures["undecided"], matrix.unassessed)
    t.assertEqual(figures["never_assessed"], assessment["never_started"])
    for key in portfolio.ASSESSMENT_STATES:
        t.assertEqual(figures[key], assessment[key], key)
    for key in ("overdue", "triggered", "due", "triggered_overdue"):
        t.assertEqual(figures[key], states[key], key)
    t.assertEqual(figures["critical"], sum(matrix.count(c, 4) for c in portfolio.CLASSES))
    t.assertEqual(figures["high"], sum(matrix.count(c, 3) for c in portfolio.CLASSES))
    t.assertEqual(figures["agent_identity"], matrix.by_class("agent_identity"))
    t.assertEqual(figures["machine_identity"], matrix.by_class("machine_identity"))
    t.assertEqual(figures["open_gaps"], gaps.total)
    t.assertEqual(figures["agents_with_open_gaps"], gaps.agent_count)
    t.assertEqual(figures["expiring"], dashboard["expiring_total"])


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
        with self.settings(SITE_URL="https://aia.example.org"):
            board = Surfaces(self, self.who["reviewer"]).board
        self.assertEqual(
            board["figures_url"], "https://aia.example.org" + reverse("assessments:figures")
        )

    def test_the_board_pack_never_names_a_loopback_address(self):
        for site in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
            with self.subTest(site=site), self.settings(SITE_URL=site):
                issued = actions.issue_board_pack(self.who["reviewer"], {})
                board = json.loads(rh.attachment(issued.pdf))
                self.assertEqual(board["figures_url"], "")
                text = rh.flat(rh.pdf_text(issued.pdf))
                self.assertNotIn("127.0.0.1", text)
                self.assertNotIn("localhost", text)
                self.assertIn("How these figures are counted", text)

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


class OneNamePerCountTests(TestCase):
    """Every count has one name and one definition on every surface (issue 21): the
    dashboard's tiles and legends, the lists' filters, the figures page, the queue's
    summary, the catalogue, the navigation's badges and the bell."""

    @classmethod
    def setUpTestData(cls):
        EdgeCasePortfolioTests.setUpTestData.__func__(cls)

    def setUp(self):
        self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.client.force_login(self.who["reviewer"])

    def html(self, name: str, **query: Any) -> str:
        response = self.client.get(reverse(name), query)
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_no_class_yet_and_never_assessed_are_two_names_for_two_figures(self):
        label = portfolio.UNASSESSED_LABEL
        dashboard = self.html("assessments:dashboard")
        unassessed = Agent.objects.active().filter(current_classification="").count()
        never = Agent.objects.active().never_started().count()
        self.assertEqual((unassessed, never), (4, 1))
        self.assertIn(f"{label}: <strong>{unassessed}</strong>", dashboard)
        self.assertIn(f"{label}: {unassessed}.</desc>", dashboard)
        never_row = (
            f"<span>{portfolio.ASSESSMENT_STATE_LABELS['never_started']}</span>"
            f"<strong>{never}</strong>"
        )
        self.assertIn(never_row, dashboard)
        agent_list = self.html("assessments:agent_list")
        unclassified = Agent.objects.active().filter(current_classification="").first()
        agent_page = self.client.get(unclassified.get_absolute_url()).content.decode()
        for page in (
            dashboard,
            agent_list,
            self.html("assessments:queue"),
            self.html("assessments:reports"),
            agent_page,
        ):
            self.assertNotIn("Not yet assessed", page)
            self.assertNotIn("Not assessed", page)
        # The rows of the agents with no class (and no draft's headline in its place)
        # carry the same name as their count.
        self.assertIn(f'border">{label}</span>', agent_list)
        self.assertIn(f"{label}. Until an assessment is approved", agent_page)
        self.assertIn(
            f'<option value="unassessed">{label}</option>', self.html("assessments:reports")
        )
        # The lists filter by the same name, and the filter finds the same agents.
        listed = self.client.get(
            reverse("assessments:agent_list"), {"classification": "unassessed"}
        )
        self.assertContains(listed, f'<option value="unassessed" selected>{label}</option>')
        self.assertEqual(listed.context["page"].paginator.count, unassessed)
        figures = self.html("assessments:figures")
        self.assertIn(f"<strong>{label}</strong> means no approved assessment", figures)

    def test_the_queue_and_dashboard_say_an_overdue_review_was_also_triggered(self):
        queue = self.client.get(reverse("assessments:queue"))
        counts = queue.context["counts"]
        self.assertEqual((counts["overdue"], counts["triggered"]), (1, 1))
        self.assertEqual(counts["triggered_overdue"], 1)
        page = queue.content.decode()
        self.assertIn(
            '<span class="small d-block text-body-secondary stat-note">1 triggered, past due</span>',
            page,
        )
        # Every "Triggered" badge in the rows is counted: as triggered, or past due.
        self.assertEqual(
            page.count("state-badge-triggered"), counts["triggered"] + counts["triggered_overdue"]
        )
        self.assertIn("1 triggered, past due", self.html("assessments:dashboard"))

    def test_the_catalogue_counts_read_as_one_figure(self):
        page = self.html("assessments:catalogue")
        total = Assessment.objects.count()
        approved = Assessment.objects.approved().count()
        drafts = Assessment.objects.in_draft().count()
        self.assertGreater(drafts, 0)
        self.assertIn(
            f"{total} assessments made under it ({approved} approved, {drafts} in draft)", page
        )
        self.assertIn(
            f"{total - drafts} of its {total} assessments were submitted (all but the "
            f"{drafts} in draft), so this version no longer changes.",
            page,
        )

    def test_the_awaiting_badge_the_tray_the_list_and_the_requests_agree(self):
        reviewer = self.who["reviewer"]
        page = self.client.get(reverse("assessments:dashboard"))
        awaiting = page.context["inbox"]["awaiting"]
        [tray] = [t for t in page.context["inbox_trays"] if t.key == "pending_decision"]
        listed = self.client.get(
            reverse("assessments:agent_list"), {"assessment": "pending_decision"}
        )
        asked = Notification.objects.filter(recipient=reviewer).awaiting().count()
        self.assertEqual(awaiting, 2)
        self.assertEqual(
            (tray.total, listed.context["page"].paginator.count, asked), (awaiting,) * 3
        )
        self.assertContains(
            page, f'Awaiting decision <span class="badge rounded-pill text-bg-warning">{awaiting}<'
        )

    def test_the_bell_counts_the_unread_list(self):
        reviewer = self.who["reviewer"]
        unread = Notification.objects.filter(recipient=reviewer).unread().count()
        self.assertGreater(unread, 0)
        page = self.client.get(reverse("assessments:dashboard"))
        self.assertEqual(page.context["inbox"]["unread"], unread)
        self.assertContains(page, f'<span class="badge rounded-pill text-bg-danger">{unread}<span')
        listed = self.client.get(reverse("assessments:notification_list"), {"show": "unread"})
        self.assertEqual(listed.context["page"].paginator.count, unread)
        self.assertEqual(listed.context["unread_count"], unread)

    def test_an_open_evidence_changed_review_shows_beside_the_class(self):
        steady = Agent.objects.get(slug="steady")
        actions.trigger_review(
            steady,
            [
                {
                    "code": "evidence_changed",
                    "detail": "Evidence changed (iam.json): it can grant itself access.",
                }
            ],
        )
        self.assertEqual(
            list(portfolio.evidence_changed_reviews().values_list("agent__slug", flat=True)),
            ["steady"],
        )
        listed = self.client.get(reverse("assessments:agent_list"))
        rows = {a.slug: a for a in listed.context["page"].object_list}
        self.assertTrue(rows["steady"].evidence_changed)
        self.assertFalse(any(a.evidence_changed for slug, a in rows.items() if slug != "steady"))
        self.assertContains(listed, "evidence-changed-badge", count=1)
        detail = self.client.get(reverse("assessments:agent_detail", args=["steady"]))
        self.assertContains(detail, "Evidence changed: review open")
        other = self.client.get(reverse("assessments:agent_detail", args=["late"]))
        self.assertNotContains(other, "Evidence changed")


class DemoDataTests(TestCase):
    def test_on_the_demo_data_every_surface_agrees(self):
        call_command("load_demo", stdout=StringIO())
        from django.contrib.auth import get_user_model

        reviewer = get_user_model().objects.get(username="reviewer")
        figures = Surfaces(self, reviewer).assert_agree()
        self.assertGreater(figures["overdue"] + figures["triggered"] + figures["due"], 0)
        self.assertGreater(figures["pending_decision"], 0)


class SeededPortfolioTests(TestCase):
    """The pack against the dashboard and its own register on a seeded portfolio
    (``seed_bulk --assessed``: 1-3 approved versions each, exceptions on flags and
    controls, reviews due and overdue, reclassifications), plus agents in every
    assessment state. ``BOARD_SEED_AGENTS=10000`` runs the issue's 10,000-agent check."""

    def test_on_a_seeded_portfolio_the_pack_agrees_with_the_dashboard_and_its_register(self):
        size = int(os.environ.get("BOARD_SEED_AGENTS", "150"))
        with time_machine.travel(h.NOW, tick=False):
            who = h.people()
            call_command("seed_bulk", "--agents", str(size), "--assessed", stdout=StringIO())
            call_command("seed_bulk", "--agents", "12", stdout=StringIO())
            fresh = list(Agent.objects.filter(current_classification="").order_by("slug"))
            for agent in fresh[:3]:
                actions.submit_assessment(who["assessor"], f.answered(agent, who["assessor"]))
            for agent in fresh[3:5]:
                a = actions.submit_assessment(who["assessor"], f.answered(agent, who["assessor"]))
                actions.return_assessment(who["reviewer"], a, comment="Check the systems.")
            for agent in fresh[5:8]:
                actions.start_assessment(who["assessor"], agent)
            portfolio_changed()
            figures = Surfaces(self, who["reviewer"]).assert_agree()
        self.assertEqual([figures[k] for k in portfolio.ASSESSMENT_STATES], [3, 2, 3, 4])
        self.assertGreater(figures["exceptions"], 0)


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
    from assessments.models import Assessment
    from assessments.workflow import decisions

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
        from assessments.reports.assessment import report_content
        from assessments.workflow import decisions

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
