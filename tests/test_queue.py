"""The reassessment queue: what is in it, filters, sorting, assignment, starting the
re-assessment from a row, the CLI, and a constant number of queries."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from io import StringIO

import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import actions
from assessments.models import AuditEvent, Review, portfolio_changed
from assessments.workflow import reviews
from tests import factories as f
from tests import review_helpers as h

QUEUE = reverse("assessments:queue")
HTMX = {"HX-Request": "true", "HX-Target": "queue-results"}


def slugs_in(response) -> list[str]:
    """Agent slugs in the queue's rows, in order."""
    return re.findall(
        r'<tr id="review-\d+"[^>]*>.*?<span class="mono">([\w-]+)</span>',
        response.content.decode(),
        re.S,
    )


class QueueTestCase(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()
        finance = f.team("Finance")
        self.overdue = h.assessed(
            "overdue-bot", self.who, name="Overdue bot", systems=[("erp", "write")]
        )
        h.set_due(self.overdue, h.TODAY - dt.timedelta(days=5))
        self.soon = h.assessed(
            "soon-bot",
            self.who,
            name="Soon bot",
            team=finance,
            owner=self.who["viewer"],
            systems=[("erp", "read")],
            decision_mode="context_driven",
        )
        h.set_due(self.soon, h.TODAY + dt.timedelta(days=12))
        self.triggered = h.assessed(
            "changed-bot", self.who, name="Changed bot", systems=[("crm", "read")]
        )
        actions.update_agent(self.who["assessor"], self.triggered, fields={"platform": "ECS"})
        self.later = h.assessed(
            "later-bot", self.who, name="Later bot"
        )  # due in a year: not in the queue
        self.unassessed = f.agent(slug="new-bot", name="New bot")
        h.trigger(self.unassessed, "system_access", "System iam added with admin access.")
        retired = h.assessed("old-bot", self.who)
        h.set_due(retired, h.TODAY - dt.timedelta(days=3))
        actions.retire_agent(self.who["assessor"], retired)


class QueueContentTests(QueueTestCase):
    def test_overdue_due_soon_and_triggered_reviews_are_listed_with_counts(self):
        self.client.force_login(self.who["viewer"])
        response = self.client.get(QUEUE)
        self.assertEqual(slugs_in(response), ["overdue-bot", "changed-bot", "new-bot", "soon-bot"])
        counts = response.context["counts"]
        self.assertEqual(
            (counts["overdue"], counts["triggered"], counts["due"], counts["total"]), (1, 2, 1, 4)
        )
        self.assertContains(response, "5 days late")
        self.assertContains(response, "in 12 days")
        self.assertContains(response, "The platform changed")
        self.assertNotContains(response, "later-bot")
        self.assertNotContains(response, "old-bot")

    def test_a_triggered_review_past_its_due_day_is_overdue_and_still_shows_the_trigger(self):
        self.traveller.shift(dt.timedelta(days=3))
        self.client.force_login(self.who["viewer"])
        response = self.client.get(QUEUE, {"state": "triggered"})
        self.assertEqual(slugs_in(response), [])
        response = self.client.get(QUEUE, {"state": "overdue"})
        self.assertIn("changed-bot", slugs_in(response))
        self.assertIn("new-bot", slugs_in(response))
        self.assertContains(response, "3 days late")
        self.assertContains(response, "overdue since")
        self.assertContains(response, "state-badge-triggered")

    def test_filters(self):
        self.client.force_login(self.who["viewer"])
        cases = [
            ({"state": "overdue"}, ["overdue-bot"]),
            ({"state": "due"}, ["soon-bot"]),
            ({"tier": "2"}, ["soon-bot"]),
            ({"classification": "agent_identity"}, ["soon-bot"]),
            ({"classification": "unassessed"}, ["new-bot"]),
            ({"team": "finance"}, ["soon-bot"]),
            ({"owner": "vera"}, ["soon-bot"]),
            ({"reason": "platform_change"}, ["changed-bot"]),
            ({"reason": "system_access"}, ["new-bot"]),
            ({"reason": "interval"}, ["overdue-bot", "changed-bot", "soon-bot"]),
            (
                {"tier": "9", "team": "nope", "state": "x"},
                ["overdue-bot", "changed-bot", "new-bot", "soon-bot"],
            ),
        ]
        for query, expected in cases:
            with self.subTest(query=query):
                self.assertEqual(slugs_in(self.client.get(QUEUE, query)), expected)

    def test_the_reason_filter_matches_codes_not_free_text(self):
        h.trigger(
            self.soon, "platform_change", 'Moved off the old host; ticket says "code": "new_link".'
        )
        self.client.force_login(self.who["viewer"])
        self.assertEqual(slugs_in(self.client.get(QUEUE, {"reason": "new_link"})), [])
        self.assertEqual(
            slugs_in(self.client.get(QUEUE, {"reason": "platform_change"})),
            ["changed-bot", "soon-bot"],
        )

    def test_counts_follow_the_filters_other_than_state(self):
        self.client.force_login(self.who["viewer"])
        counts = self.client.get(QUEUE, {"team": "finance", "state": "overdue"}).context["counts"]
        self.assertEqual((counts["overdue"], counts["due"], counts["triggered"]), (0, 1, 0))

    def test_assignee_filters(self):
        actions.assign_review(self.who["reviewer"], h.open_review(self.soon), self.who["reviewer"])
        self.client.force_login(self.who["reviewer"])
        self.assertEqual(slugs_in(self.client.get(QUEUE, {"assignee": "me"})), ["soon-bot"])
        self.assertEqual(slugs_in(self.client.get(QUEUE, {"assignee": "rex"})), ["soon-bot"])
        self.assertEqual(
            slugs_in(self.client.get(QUEUE, {"assignee": "none"})),
            ["overdue-bot", "changed-bot", "new-bot"],
        )

    def test_sorting_by_due_date_and_tier(self):
        self.client.force_login(self.who["viewer"])
        self.assertEqual(
            slugs_in(self.client.get(QUEUE, {"sort": "-due"})),
            ["soon-bot", "changed-bot", "new-bot", "overdue-bot"],
        )
        # soon-bot is tier 2, the others tier 1; not assessed comes last.
        self.assertEqual(slugs_in(self.client.get(QUEUE, {"sort": "tier"}))[:1], ["soon-bot"])
        self.assertEqual(slugs_in(self.client.get(QUEUE, {"sort": "tier"}))[-1], "new-bot")

    def test_htmx_filtering_returns_only_the_results(self):
        self.client.force_login(self.who["viewer"])
        response = self.client.get(QUEUE, {"state": "overdue"}, headers=HTMX)
        body = response.content.decode()
        self.assertTrue(body.lstrip().startswith('<section id="queue-results"'))
        self.assertNotIn("<html", body)
        self.assertEqual(slugs_in(response), ["overdue-bot"])

    def test_viewers_see_no_assignment_or_start_controls(self):
        self.client.force_login(self.who["viewer"])
        response = self.client.get(QUEUE)
        self.assertNotContains(response, 'id="bulk-assign"')
        self.assertNotContains(response, "Assign the review of")
        self.assertNotContains(response, reverse("assessments:assessment_start", args=["soon-bot"]))

    def test_an_empty_queue_says_so(self):
        Review.objects.all().delete()
        self.client.force_login(self.who["viewer"])
        self.assertContains(self.client.get(QUEUE), "Nothing to reassess")
        self.assertContains(self.client.get(QUEUE, {"tier": "4"}), "No reviews match these filters")


class PageForm(HTMLParser):
    """The fields a browser without JavaScript sends with the queue's assignment form:
    the form's own fields and the rows' fields tied to it by ``form="bulk-assign"``."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: list[dict[str, str]] = []
        self.options: list[str] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "bulk-assign":
            self.inside, self.action = True, a["action"]
        elif tag in ("input", "select", "button") and (
            self.inside or a.get("form") == "bulk-assign"
        ):
            self.fields.append({"tag": tag, **a})
        elif tag == "option" and self.inside:
            self.options.append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def page_form(response) -> PageForm:
    form = PageForm()
    form.feed(response.content.decode())
    return form


class AssignTests(QueueTestCase):
    def setUp(self):
        super().setUp()
        self.review = h.open_review(self.overdue)
        self.url = reverse("assessments:queue_bulk_assign")

    def test_the_pages_form_assigns_a_ticked_row_without_javascript(self):
        self.client.force_login(self.who["reviewer"])
        form = page_form(self.client.get(QUEUE, {"state": "overdue"}))
        self.assertEqual(form.action, self.url + "?state=overdue")
        self.assertIn(str(self.who["second_reviewer"].pk), form.options)
        # Tick the overdue bot's row; send the hidden fields as they are.
        data: dict[str, list[str]] = {}
        for field in form.fields:
            if field["tag"] == "input" and field.get("type") == "hidden":
                data.setdefault(field["name"], []).append(field["value"])
            elif field.get("name") == "review" and field["value"] == str(self.review.pk):
                data.setdefault("review", []).append(field["value"])
        self.assertEqual(data["review"], [str(self.review.pk)])
        data["assignee"] = [str(self.who["second_reviewer"].pk)]
        response = self.client.post(form.action, data)
        self.assertRedirects(response, QUEUE + "?state=overdue", fetch_redirect_response=False)
        self.review.refresh_from_db()
        self.assertEqual(self.review.assignee, self.who["second_reviewer"])
        event = AuditEvent.objects.get(verb="review.assign")
        self.assertEqual(event.changes, {"assignee": {"old": None, "new": "rita"}})
        self.assertEqual(event.actor, self.who["reviewer"])
        page = self.client.get(QUEUE, {"state": "overdue"})
        self.assertContains(page, "1 review assigned to Rita Reyes.")
        self.assertContains(page, "Rita Reyes</div>")

    def test_the_queue_has_no_assignment_route_per_review(self):
        # Reviews are assigned by the one form above the table (queue_bulk_assign).
        self.assertEqual(
            self.client.post(f"/queue/{self.review.pk}/assign/", {"to_me": "1"}).status_code,
            404,
        )

    def test_unassigning(self):
        actions.assign_review(self.who["reviewer"], self.review, self.who["reviewer"])
        self.client.force_login(self.who["reviewer"])
        self.client.post(
            self.url, {"review": [self.review.pk], f"version-{self.review.pk}": 1, "assignee": ""}
        )
        self.review.refresh_from_db()
        self.assertIsNone(self.review.assignee)

    def test_only_reviewers_can_be_assigned(self):
        self.client.force_login(self.who["reviewer"])
        response = self.client.post(
            self.url,
            {
                "review": [self.review.pk],
                f"version-{self.review.pk}": 0,
                "assignee": self.who["assessor"].pk,
            },
            headers=HTMX,
        )
        self.assertContains(response, "Choose a reviewer from the list", status_code=422)
        with self.assertRaisesMessage(actions.ActionError, "is not a reviewer"):
            actions.assign_review(self.who["reviewer"], self.review, self.who["assessor"])
        self.review.refresh_from_db()
        self.assertIsNone(self.review.assignee)

    def test_viewers_and_assessors_cannot_assign(self):
        for role in ("viewer", "assessor"):
            with self.subTest(role=role):
                self.client.force_login(self.who[role])
                response = self.client.post(
                    self.url,
                    {"review": [self.review.pk], f"version-{self.review.pk}": 0, "to_me": "1"},
                )
                self.assertEqual(response.status_code, 403)
        self.review.refresh_from_db()
        self.assertIsNone(self.review.assignee)
        with self.assertRaisesMessage(actions.ActionError, "Only reviewers"):
            actions.assign_review(self.who["assessor"], self.review, self.who["reviewer"])

    def test_bulk_assign_assigns_every_ticked_review(self):
        ids = [h.open_review(a).pk for a in (self.overdue, self.soon, self.triggered)]
        self.client.force_login(self.who["reviewer"])
        response = self.client.post(
            reverse("assessments:queue_bulk_assign") + "?sort=tier",
            {
                "review": ids,
                **{f"version-{pk}": 0 for pk in ids},
                "assignee": self.who["second_reviewer"].pk,
            },
            headers=HTMX,
        )
        self.assertEqual(response.status_code, 200)
        body = response.content.decode()
        self.assertTrue(body.lstrip().startswith('<section id="queue-results"'))
        self.assertIn("3 reviews assigned to Rita Reyes.", body)
        self.assertEqual(
            set(Review.objects.filter(pk__in=ids).values_list("assignee__username", flat=True)),
            {"rita"},
        )
        self.assertEqual(AuditEvent.objects.filter(verb="review.assign").count(), 3)
        self.assertIsNone(h.open_review(self.unassessed).assignee)

    def test_bulk_assign_to_me_without_javascript_redirects_back(self):
        ids = [h.open_review(a).pk for a in (self.overdue, self.soon)]
        self.client.force_login(self.who["reviewer"])
        response = self.client.post(
            reverse("assessments:queue_bulk_assign") + "?state=overdue",
            {"review": ids, **{f"version-{pk}": 0 for pk in ids}, "to_me": "1"},
            follow=True,
        )
        self.assertContains(response, "2 reviews assigned to Rex Reviewer.")
        self.assertEqual(response.redirect_chain[0][0], QUEUE + "?state=overdue")

    def test_bulk_assign_without_a_ticked_review_says_so(self):
        self.client.force_login(self.who["reviewer"])
        response = self.client.post(
            reverse("assessments:queue_bulk_assign"), {"to_me": "1"}, headers=HTMX
        )
        self.assertContains(response, "Tick the reviews to assign first.", status_code=422)
        self.assertFalse(AuditEvent.objects.filter(verb="review.assign").exists())

    def test_each_row_sends_the_version_of_the_review_it_shows(self):
        actions.assign_review(self.who["reviewer"], self.review, self.who["reviewer"])
        self.client.force_login(self.who["reviewer"])
        page = self.client.get(QUEUE).content.decode()
        self.assertIn(
            f'<input type="hidden" name="version-{self.review.pk}" value="1" form="bulk-assign">',
            page,
        )

    def test_assigning_from_a_stale_page_says_so_and_changes_nothing(self):
        self.client.force_login(self.who["reviewer"])
        # Someone else assigns it after the page was read (at version 0).
        actions.assign_review(self.who["second_reviewer"], self.review, self.who["second_reviewer"])
        other = h.open_review(self.soon)
        stale = {
            "review": [self.review.pk, other.pk],
            f"version-{self.review.pk}": 0,
            f"version-{other.pk}": 0,
            "to_me": "1",
        }
        bulk = self.client.post(self.url, stale, headers=HTMX)
        self.assertContains(bulk, "Overdue bot is now assigned to Rita Reyes", status_code=409)
        self.assertContains(bulk, "Nothing was assigned", status_code=409)
        self.review.refresh_from_db()
        self.assertEqual(self.review.assignee, self.who["second_reviewer"])
        self.assertIsNone(h.open_review(self.soon).assignee)  # not half the batch either
        self.assertEqual(AuditEvent.objects.filter(verb="review.assign").count(), 1)
        # Without JavaScript: back to the queue, with the message.
        page = self.client.post(self.url, stale, follow=True)
        self.assertContains(page, "is now assigned to Rita Reyes")
        self.assertIsNone(h.open_review(self.soon).assignee)

    def test_an_assignment_without_the_version_changes_nothing(self):
        self.client.force_login(self.who["reviewer"])
        bulk = self.client.post(self.url, {"review": [self.review.pk], "to_me": "1"})
        self.assertEqual(bulk.status_code, 400)
        self.review.refresh_from_db()
        self.assertIsNone(self.review.assignee)


class ReassessFromTheQueueTests(QueueTestCase):
    def test_a_row_starts_the_reassessment_and_approval_closes_the_review(self):
        review = h.open_review(self.overdue)
        self.client.force_login(self.who["assessor"])
        start = reverse("assessments:assessment_start", args=["overdue-bot"])
        self.assertContains(self.client.get(QUEUE), f'action="{start}"')
        response = self.client.post(start)
        draft = self.overdue.assessments.get(number=2)
        self.assertRedirects(
            response,
            reverse("assessments:wizard", args=["overdue-bot", 2]),
            fetch_redirect_response=False,
        )
        # The row now continues the draft instead of starting another.
        page = self.client.get(QUEUE)
        self.assertContains(page, "Continue v2")
        self.assertNotContains(page, f'action="{start}"')
        actions.save_answers(
            self.who["assessor"], draft, dict(f.SCRIPT_ANSWERS), expected_version=draft.lock_version
        )
        draft = actions.submit_assessment(self.who["assessor"], draft)
        self.client.force_login(self.who["reviewer"])
        self.assertContains(self.client.get(QUEUE), "Decide v2")
        self.client.post(
            reverse("assessments:assessment_decide", args=["overdue-bot", 2]),
            {"decision": "approve", "lock_version": draft.lock_version},
        )
        review.refresh_from_db()
        self.assertEqual((review.state, review.closed_by_assessment_id), ("closed", draft.pk))
        self.assertNotIn("overdue-bot", slugs_in(self.client.get(QUEUE)))


class QueueQueryCountTests(TestCase):
    def setUp(self):
        self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.reviewer = f.reviewer()
        self.team = f.team()
        h.bulk_queue(10, self.reviewer, self.team, h.TODAY)
        self.client.force_login(self.reviewer)
        self.client.get(QUEUE)  # the first request after sign-in also writes the session

    def queries_for(self, query):
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(QUEUE, query)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries), response

    def test_the_queue_takes_the_same_queries_for_10_and_5000_agents(self):
        # The whole queue's counts come from the portfolio snapshot: the first request
        # after a change computes it, the next ones read it.
        filters = {"tier": "2", "reason": "interval", "assignee": "none", "sort": "tier"}
        portfolio_changed()
        computing, _ = self.queries_for({})
        small, response = self.queries_for({})
        self.assertLess(small, computing)
        self.assertEqual(len(slugs_in(response)), 10)
        small_filtered, _ = self.queries_for(filters)
        h.bulk_queue(4990, self.reviewer, self.team, h.TODAY, prefix="more")
        with self.assertNumQueries(computing):
            self.client.get(QUEUE)
        with self.assertNumQueries(small):
            response = self.client.get(QUEUE)
        self.assertEqual(response.context["counts"]["total"], 5000)
        self.assertEqual(response.context["page"].paginator.num_pages, 100)
        self.assertEqual(len(slugs_in(response)), 50)  # one page
        with self.assertNumQueries(small_filtered):
            self.client.get(QUEUE, filters)
        with self.assertNumQueries(small):
            self.client.get(QUEUE, {"page": "40"})
        with self.assertNumQueries(small):
            response = self.client.get(QUEUE, {"state": "overdue", "page": "2"})
        counts = response.context["counts"]
        self.assertEqual(response.context["page"].paginator.count, counts["overdue"])
        self.assertEqual(
            counts,
            reviews.state_counts(Review.objects.in_queue(reviews.QUEUE_DAYS, h.TODAY), h.TODAY),
        )


class ReviewQueueCommandTests(QueueTestCase):
    def call(self, *args):
        out = StringIO()
        call_command("review_queue", *args, stdout=out)
        return out.getvalue()

    def test_json_items_carry_slug_class_tier_due_state_reasons_and_assignee(self):
        actions.assign_review(self.who["reviewer"], h.open_review(self.soon), self.who["reviewer"])
        items = json.loads(self.call("--format", "json"))
        self.assertEqual(
            [i["agent"] for i in items], ["overdue-bot", "changed-bot", "new-bot", "soon-bot"]
        )
        soon = items[-1]
        self.assertEqual(soon["classification"], "agent_identity")
        self.assertEqual(soon["tier"], 2)
        self.assertEqual(soon["due_on"], (h.TODAY + dt.timedelta(days=12)).isoformat())
        self.assertEqual(soon["state"], "due")
        self.assertEqual(soon["assignee"], "rex")
        self.assertEqual(soon["reasons"][0]["code"], "interval")
        self.assertEqual(items[0]["state"], "overdue")
        self.assertEqual(items[0]["days_overdue"], 5)
        self.assertEqual(items[1]["state"], "triggered")
        self.assertEqual([r["code"] for r in items[1]["reasons"]], ["interval", "platform_change"])
        self.assertIsNone(items[2]["classification"])
        self.assertIsNone(items[0]["assignee"])

    def test_due_within_widens_or_narrows_the_horizon(self):
        slugs = [i["agent"] for i in json.loads(self.call("--format", "json", "--due-within", "5"))]
        self.assertNotIn("soon-bot", slugs)
        slugs = [
            i["agent"] for i in json.loads(self.call("--format", "json", "--due-within", "400"))
        ]
        self.assertIn("later-bot", slugs)
        with self.assertRaises(CommandError):
            self.call("--due-within", "-1")

    def test_text_output(self):
        out = self.call()
        self.assertIn("4 reviews: 1 overdue, 2 triggered, 1 due within 30 days.", out)
        self.assertIn("overdue-bot", out)
        self.assertIn("[platform_change] The platform changed", out)
        Review.objects.all().delete()
        self.assertIn("Nothing to review", self.call())
