"""Words, never codes: every page (for the demo data and every role), the PDF reports,
the CSV headers and the reminder e-mail are scanned for raw keys: snake_case ids of
answers, flags, signals and values, dotted audit verbs, and Python repr text. Only
``<code>`` elements (meant for ids) may hold them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import deque
from html.parser import HTMLParser
from io import StringIO
from unittest import mock
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from assessments import engine
from assessments.engine.terms import ANSWER_TITLES
from assessments.presentation import change_rows, why, words

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
VERB = re.compile(r"\b(?:auth|agent|assessment|review|exception|calendar_feed|access)\.[a-z_]+\b")
# Python repr of tuples, lists and dicts. ("None" is also an answer's label, so it is not
# a sign of repr on its own.)
REPR = re.compile(r"\('|\[\{|\{'|'\)|\['|'\]|\[\]|\(\)")
SKIP_TAGS = {"code", "script", "style"}
# Pages not scanned: downloads are checked below; these act or leave the app.
SKIPPED_ROUTES = {
    "logout",
    "favicon",
    "assessments:calendar_feed",
    "assessments:export_inventory",
    "assessments:export_assessments",
    "assessments:assessment_report",
    "assessments:board_pack_download",
    "assessments:agent_lookup",
    "assessments:agent_form_row",
}


class _Text(HTMLParser):
    """The visible text of a page, and the texts a person reads in attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP_TAGS:
            self.depth += 1
        for name, value in attrs:
            if name in {"title", "aria-label", "alt", "placeholder"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def raw_keys(text: str) -> list[str]:
    found = SNAKE.findall(text) + VERB.findall(text) + REPR.findall(text)
    return sorted(set(found))


def links(html: str) -> list[str]:
    return re.findall(r'href="(/[^"#]*)"', html)


class RawKeyScanTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("load_demo", stdout=StringIO())

    def crawl(self, username: str) -> dict[str, list[str]]:
        """Every page reachable from the dashboard, one per route and three per agent
        route, for ``username``; returns {url: raw keys found}."""
        self.client.force_login(get_user_model().objects.get(username=username))
        seen: set[str] = set()
        per_route: dict[str, int] = {}
        queue = deque(["/"])
        problems: dict[str, list[str]] = {}
        while queue:
            url = queue.popleft()
            path = urlsplit(url).path
            if url in seen or path.startswith(("/admin/", "/static/")):
                continue
            seen.add(url)
            try:
                match = resolve(path)
            except Resolver404:
                continue
            if match.view_name in SKIPPED_ROUTES:
                continue
            per_route[match.view_name] = per_route.get(match.view_name, 0) + 1
            if per_route[match.view_name] > 4:
                continue
            response = self.client.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            html = response.content.decode()
            keys = raw_keys(visible_text(html))
            if keys:
                problems[url] = keys
            queue.extend(links(html))
        self.assertGreaterEqual(len(per_route), 10)
        return problems

    def test_no_page_shows_a_raw_key_to_any_role(self):
        for username in ("viewer", "assessor", "reviewer", "admin"):
            with self.subTest(username):
                problems = self.crawl(username)
                self.assertFalse(
                    problems,
                    "\n".join(f"{url}: {', '.join(keys)}" for url, keys in problems.items()),
                )


class DetectorTests(TestCase):
    """The scanner itself: it must catch what the issue saw."""

    def test_it_catches_keys_verbs_and_repr_outside_code(self):
        html = (
            "<p>decision_mode = planner_executor</p><td>auth.login</td>"
            "<li>('platform-ops-assistant: grafana (read)',)</li><code>audit_gap</code>"
        )
        found = raw_keys(visible_text(html))
        for key in ("decision_mode", "planner_executor", "auth.login", "('"):
            self.assertIn(key, found)
        self.assertNotIn("audit_gap", found)
        self.assertEqual(raw_keys(visible_text("<p>Audit gap: None of these</p>")), [])


class ReportWordsTests(TestCase):
    """The PDFs (scanned as the HTML they are printed from), CSV headers and e-mails."""

    @classmethod
    def setUpTestData(cls):
        call_command("load_demo", stdout=StringIO())

    def printed_html(self, render, *args, **kwargs) -> str:
        from assessments.reports import pdf

        pages: list[str] = []
        original = pdf.render_to_string

        def keep(*a, **kw):
            pages.append(original(*a, **kw))
            return pages[-1]

        with mock.patch.object(pdf, "render_to_string", keep):
            render(*args, **kwargs)
        self.assertTrue(pages)
        return "".join(pages)

    def test_assessment_reports_say_it_in_words(self):
        from assessments.models import Assessment
        from assessments.reports.assessment import render_assessment_report

        now = timezone.now()
        for a in Assessment.objects.select_related("agent").order_by("pk"):
            with self.subTest(f"{a.agent.slug} v{a.number}"):
                html = self.printed_html(
                    render_assessment_report,
                    a,
                    document_id="AR-TEST",
                    generated_at=now,
                    generated_by="test",
                )
                self.assertEqual(raw_keys(visible_text(html)), [])

    def test_the_board_pack_says_it_in_words(self):
        from assessments.reports.board import BoardFilters, render_board_pack

        today = timezone.localdate()
        filters = BoardFilters(since=today - dt.timedelta(days=365), until=today)
        html = self.printed_html(
            render_board_pack,
            filters,
            document_id="BP-TEST",
            generated_at=timezone.now(),
            generated_by="test",
        )
        self.assertEqual(raw_keys(visible_text(html)), [])

    def test_csv_headers_are_words(self):
        self.client.force_login(get_user_model().objects.get(username="viewer"))
        for name in ("assessments:export_inventory", "assessments:export_assessments"):
            with self.subTest(name):
                response = self.client.get(reverse(name))
                body = b"".join(response.streaming_content).decode("utf-8-sig")
                header = next(csv.reader(io.StringIO(body)))
                self.assertEqual(raw_keys(" ".join(header)), [], header)

    def test_reminder_emails_say_it_in_words(self):
        call_command("send_review_reminders", stdout=StringIO(), stderr=StringIO())
        self.assertTrue(mail.outbox)
        for message in mail.outbox:
            texts = [message.subject, message.body]
            texts += [visible_text(str(body)) for body, _type in message.alternatives]
            self.assertEqual(raw_keys(" ".join(texts)), [])


class PresentationTests(TestCase):
    """The one presentation function and the "Why" list."""

    def evaluate(self, **answers):
        from tests.factories import SCRIPT_ANSWERS

        return engine.evaluate(
            {**SCRIPT_ANSWERS, "systems": [], "linked_agents": [], **answers},
            catalogue=engine.load_catalogue(),
        )

    def test_every_answer_key_has_a_short_name(self):
        self.assertEqual(set(ANSWER_TITLES), set(engine.ANSWER_KEYS))

    def test_codes_of_every_kind_read_as_words(self):
        self.assertEqual(words("auth.login", "verb"), "signed in")
        self.assertEqual(words("audit_gap", "flag"), "Audit gap")
        self.assertEqual(words("audit_gap", "subject"), "Audit gap")
        self.assertEqual(words("AIC-03", "subject"), "AIC-03")
        self.assertEqual(words("alters_own_access", "signal"), "Alters its own access")
        self.assertEqual(words("planner_executor", "answer", "decision_mode"), "Planner-executor")
        self.assertEqual(words("unknown", "control_status"), "Not shown by the answers")
        self.assertEqual(words("agent_identity", "classification"), "Agent identity")
        self.assertEqual(words([], "answer", "planned_changes"), "Nothing planned")
        linked = ("platform-ops-assistant: grafana (read)", "runner: jira (write)")
        self.assertEqual(
            words(linked, "answer", "linked_agents"),
            "platform-ops-assistant: grafana (read); runner: jira (write)",
        )
        self.assertEqual(words(True), "Yes")
        self.assertEqual(words("some_new_code"), "Some new code")

    def test_the_why_list_leads_with_the_decisive_indicator_in_sentences(self):
        result = self.evaluate(alters_own_access=True, decision_mode="planner_executor")
        sentences = why(result)
        self.assertIn("widen its own access path", sentences[0])
        self.assertTrue(sentences[1].startswith("It belongs in the agent identity class"))
        for sentence in sentences:
            self.assertEqual(raw_keys(sentence), [], sentence)
            self.assertTrue(sentence[0].isupper() and sentence.endswith("."), sentence)
        self.assertIn("(Widens its own access: Yes)", sentences[0])

    def test_audit_changes_read_as_words_not_python(self):
        rows = change_rows(
            {
                "decision_mode": {"old": None, "new": "planner_executor"},
                "flags": ["audit_gap"],
                "classification": "agent_identity",
            }
        )
        self.assertEqual(
            rows,
            [
                ("How it decides", "Not answered → Planner-executor"),
                ("Flags", "Audit gap"),
                ("Classification", "Agent identity"),
            ],
        )


def test_recorded_dates_and_times_read_in_the_pages_format():
    from assessments.presentation import change_rows

    rows = dict(
        change_rows(
            {
                "expires_at": "2027-03-06T23:35:18.411597+00:00",
                "expires_on": "2027-03-06",
                "name": "2027-02-30",  # not a date: shown as given
            }
        )
    )
    assert rows["Expires at"] == "6 Mar 2027 23:35"
    assert rows["Expires on"] == "6 Mar 2027"
    assert rows["Name"] == "2027-02-30"
