"""Secret iCalendar feeds: creation, content (parsed with icalendar), revocation."""

from __future__ import annotations

import datetime as dt
import logging
import re
from types import SimpleNamespace

import icalendar
import time_machine
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from gunicorn.config import Config
from gunicorn.glogging import Logger

from assessments import actions
from assessments.models import AuditEvent, CalendarFeed
from tests import factories as f
from tests import review_helpers as h

FEEDS = reverse("assessments:calendar_feeds")


class CalendarTestCase(TestCase):
    def setUp(self):
        self.traveller = self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()
        self.finance = f.team("Finance")
        # Olga owns two; one is assigned to the reviewer. Vera owns one in Finance.
        self.mine = h.assessed("mine-bot", self.who, name="Mine bot")
        h.set_due(self.mine, h.TODAY + dt.timedelta(days=10))
        self.assigned = h.assessed("assigned-bot", self.who, name="Assigned bot")
        actions.assign_review(
            self.who["reviewer"], h.open_review(self.assigned), self.who["reviewer"]
        )
        self.other = h.assessed(
            "finance-bot", self.who, name="Finance bot", owner=self.who["viewer"], team=self.finance
        )
        h.trigger(self.other, "credential_change", "The credential model changed.")

    def create(self, user, **data):
        self.client.force_login(user)
        response = self.client.post(FEEDS, {"scope": "mine", **data}, follow=True)
        self.assertEqual(response.status_code, 200)
        match = re.search(r'id="new-feed-url" value="([^"]+)"', response.content.decode())
        self.assertIsNotNone(match, "the new URL is shown")
        return match.group(1), response

    def fetch(self, url):
        self.client.logout()  # calendar clients have no session
        return self.client.get(url.removeprefix("http://127.0.0.1:8000"))

    def events(self, url):
        response = self.fetch(url)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "text/calendar; charset=utf-8")
        cal = icalendar.Calendar.from_ical(response.content)
        return cal, {str(e["URL"]).rsplit("/", 2)[-2]: e for e in cal.walk("VEVENT")}


class FeedTests(CalendarTestCase):
    def test_a_personal_feed_lists_reviews_of_agents_owned_or_assigned(self):
        url, _ = self.create(self.who["owner"])
        cal, events = self.events(url)
        self.assertEqual(str(cal["VERSION"]), "2.0")
        self.assertIn("Agent Identity Assessor", str(cal["PRODID"]))
        self.assertEqual(cal["REFRESH-INTERVAL"].dt, dt.timedelta(hours=1))
        self.assertEqual(cal["X-PUBLISHED-TTL"].to_ical(), b"PT1H")
        self.assertEqual(sorted(events), ["assigned-bot", "mine-bot"])
        event = events["mine-bot"]
        self.assertEqual(event.start, h.TODAY + dt.timedelta(days=10))
        self.assertEqual(event.end, h.TODAY + dt.timedelta(days=11))
        self.assertEqual(str(event["SUMMARY"]), "Review due: Mine bot")
        self.assertEqual(str(event["URL"]), "http://127.0.0.1:8000/agents/mine-bot/")
        self.assertIn("Scheduled: tier 1 is reviewed every 365 days.", str(event["DESCRIPTION"]))
        self.assertIn("Assigned to: nobody yet.", str(event["DESCRIPTION"]))
        review = h.open_review(self.mine)
        self.assertEqual(str(event["UID"]), f"review-{review.pk}@127.0.0.1")
        # The reviewer's own feed has the review assigned to them.
        url, _ = self.create(self.who["reviewer"])
        _cal, events = self.events(url)
        self.assertEqual(sorted(events), ["assigned-bot"])

    def test_a_team_feed_lists_that_teams_reviews(self):
        url, _ = self.create(self.who["reviewer"], scope="team", team=self.finance.pk)
        cal, events = self.events(url)
        self.assertEqual(sorted(events), ["finance-bot"])
        self.assertEqual(str(cal["X-WR-CALNAME"]), "Reviews: Finance")
        self.assertEqual(str(events["finance-bot"]["SUMMARY"]), "Triggered review: Finance bot")

    def test_uids_are_stable_and_dates_follow_the_review(self):
        url, _ = self.create(self.who["owner"])
        _cal, first = self.events(url)
        h.trigger(self.mine)  # due at once now
        self.traveller.shift(dt.timedelta(hours=5))
        _cal, second = self.events(url)
        self.assertEqual(str(first["mine-bot"]["UID"]), str(second["mine-bot"]["UID"]))
        self.assertEqual(second["mine-bot"].start, h.TODAY)
        self.assertGreater(second["mine-bot"]["DTSTAMP"].dt, first["mine-bot"]["DTSTAMP"].dt)

    def test_closed_reviews_and_retired_agents_drop_out(self):
        url, _ = self.create(self.who["owner"])
        actions.retire_agent(self.who["assessor"], self.mine)
        _cal, events = self.events(url)
        self.assertEqual(sorted(events), ["assigned-bot"])

    def test_the_token_is_shown_once_and_only_its_hash_is_stored(self):
        url, response = self.create(self.who["owner"])
        token = url.rsplit("/", 1)[-1].removesuffix(".ics")
        self.assertGreaterEqual(len(token), 40)
        feed = CalendarFeed.objects.get()
        self.assertEqual(feed.token_hash, CalendarFeed.hash_token(token))
        self.assertNotIn(token, feed.token_hash)
        self.assertNotIn(token, str(AuditEvent.objects.get(verb="calendar_feed.create").changes))
        page = self.client.get(FEEDS)
        self.assertNotContains(page, token)
        self.assertContains(page, "My reviews")

    def test_reading_the_feed_records_when_it_was_last_used(self):
        url, _ = self.create(self.who["owner"])
        self.assertIsNone(CalendarFeed.objects.get().last_used_at)
        self.fetch(url)
        self.assertEqual(CalendarFeed.objects.get().last_used_at, timezone.now())

    @override_settings(SITE_URL="https://assessor.example.com")
    def test_links_use_the_site_url(self):
        url, _ = self.create(self.who["owner"])
        self.assertTrue(url.startswith("https://assessor.example.com/calendar/feed/"))
        response = self.client.get(url.removeprefix("https://assessor.example.com"))
        event = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
        self.assertTrue(str(event["URL"]).startswith("https://assessor.example.com/agents/"))
        self.assertTrue(str(event["UID"]).endswith("@assessor.example.com"))

    def test_an_unknown_token_is_404(self):
        self.assertEqual(self.client.get("/calendar/feed/not-a-real-token.ics").status_code, 404)
        self.assertEqual(self.client.get(f"/calendar/feed/{'x' * 200}.ics").status_code, 404)


class RevokeTests(CalendarTestCase):
    def test_a_revoked_feed_is_404(self):
        url, _ = self.create(self.who["owner"])
        feed = CalendarFeed.objects.get()
        self.client.force_login(self.who["owner"])
        response = self.client.post(
            reverse("assessments:calendar_feed_revoke", args=[feed.pk]), follow=True
        )
        self.assertContains(response, "The feed is revoked")
        self.assertContains(response, "Revoked")
        feed.refresh_from_db()
        self.assertEqual(feed.revoked_at, timezone.now())
        self.assertEqual(self.fetch(url).status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(verb="calendar_feed.revoke").exists())

    def test_revoke_asks_first_in_the_apps_own_dialog_or_on_a_page(self):
        self.create(self.who["owner"])
        feed = CalendarFeed.objects.get()
        revoke = reverse("assessments:calendar_feed_revoke", args=[feed.pk])
        page = self.client.get(FEEDS)
        self.assertNotContains(page, "hx-confirm")
        self.assertContains(page, f'href="{revoke}"')
        self.assertContains(page, 'id="confirm-dialog"')
        confirm = self.client.get(revoke)
        self.assertContains(confirm, "Revoke the calendar feed of your reviews?")
        self.assertContains(confirm, f'action="{revoke}"')
        fragment = self.client.get(revoke, headers={"HX-Request": "true"})
        self.assertContains(fragment, 'id="confirm-body"')
        self.assertNotContains(fragment, "<html")
        feed.refresh_from_db()
        self.assertIsNone(feed.revoked_at)  # asking changes nothing
        self.client.force_login(self.who["reviewer"])
        self.assertEqual(self.client.get(revoke).status_code, 404)

    def test_nobody_else_can_revoke_a_feed(self):
        self.create(self.who["owner"])
        feed = CalendarFeed.objects.get()
        self.client.force_login(self.who["reviewer"])
        response = self.client.post(reverse("assessments:calendar_feed_revoke", args=[feed.pk]))
        self.assertEqual(response.status_code, 404)
        feed.refresh_from_db()
        self.assertIsNone(feed.revoked_at)

    def test_a_feed_stops_working_when_its_owner_is_deactivated_or_loses_their_role(self):
        url, _ = self.create(self.who["owner"])
        self.who["owner"].groups.clear()
        self.assertEqual(self.fetch(url).status_code, 404)
        url, _ = self.create(self.who["reviewer"])
        self.who["reviewer"].is_active = False
        self.who["reviewer"].save()
        self.assertEqual(self.fetch(url).status_code, 404)

    def test_reactivating_the_owner_does_not_revive_their_old_feeds(self):
        url, _ = self.create(self.who["reviewer"])
        self.who["reviewer"].is_active = False
        self.who["reviewer"].save()
        self.who["reviewer"].is_active = True
        self.who["reviewer"].save()
        self.assertEqual(self.fetch(url).status_code, 404)
        self.assertIsNotNone(CalendarFeed.objects.get().revoked_at)
        event = AuditEvent.objects.filter(verb="auth.sessions_ended").get()
        self.assertEqual(event.changes["feeds_revoked"], 1)
        # A feed they create afterwards works.
        url, _ = self.create(self.who["reviewer"])
        self.assertEqual(self.fetch(url).status_code, 200)


class FeedFormTests(CalendarTestCase):
    def test_a_team_feed_needs_a_team(self):
        self.client.force_login(self.who["owner"])
        response = self.client.post(FEEDS, {"scope": "team"})
        self.assertContains(response, "Choose the team", status_code=422)
        self.assertFalse(CalendarFeed.objects.exists())

    def test_at_most_ten_active_feeds_per_person(self):
        for _ in range(actions.MAX_CALENDAR_FEEDS):
            actions.create_calendar_feed(self.who["owner"], scope="mine")
        self.client.force_login(self.who["owner"])
        response = self.client.post(FEEDS, {"scope": "mine"})
        self.assertContains(response, "You already have 10 active feeds", status_code=422)
        self.assertEqual(CalendarFeed.objects.count(), 10)

    def test_people_without_a_role_have_no_feeds_page(self):
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.get(FEEDS).status_code, 403)


class FeedTokenNotLoggedTests(CalendarTestCase):
    """The token is in the feed's path (calendar programs send no headers): no request
    line or request warning written by gunicorn, runserver or Django carries it."""

    def token_of(self, url: str) -> str:
        return url.rsplit("/", 1)[-1].removesuffix(".ics")

    def test_gunicorns_access_line_masks_the_token(self):
        url, _ = self.create(self.who["owner"])
        token = self.token_of(url)
        path = f"/calendar/feed/{token}.ics"
        config = Config()
        config.set("accesslog", "-")
        log = Logger(config)
        environ = {
            "REQUEST_METHOD": "GET",
            "RAW_URI": path,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "192.0.2.1",
            "HTTP_REFERER": f"https://assessor.example.com{path}",
        }
        response = SimpleNamespace(status="200 OK", sent=10, headers=[])
        request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
        with self.assertLogs("gunicorn.access", "INFO") as logs:
            log.access(response, request, environ, dt.timedelta(seconds=1))
        line = logs.records[0].getMessage()
        self.assertIn('"GET /calendar/feed/[hidden].ics HTTP/1.1" 200', line)
        self.assertNotIn(token, line)

    def test_runservers_request_line_masks_the_token(self):
        url, _ = self.create(self.who["owner"])
        token = self.token_of(url)
        with self.assertLogs("django.server", "INFO") as logs:
            # As django.core.servers.basehttp.WSGIRequestHandler.log_message writes it.
            logging.getLogger("django.server").info(
                '"%s" %s %s', f"GET /calendar/feed/{token}.ics HTTP/1.1", "200", "512"
            )
        self.assertNotIn(token, logs.output[0])
        self.assertIn("/calendar/feed/[hidden].ics", logs.output[0])

    def test_djangos_not_found_warning_masks_a_revoked_or_wrong_token(self):
        url, _ = self.create(self.who["owner"])
        token = self.token_of(url)
        CalendarFeed.objects.update(revoked_at=timezone.now())
        self.client.logout()
        with self.assertLogs("django.request", "WARNING") as logs:
            self.assertEqual(self.client.get(f"/calendar/feed/{token}.ics").status_code, 404)
        self.assertNotIn(token, "\n".join(logs.output))
        self.assertIn("/calendar/feed/[hidden].ics", "\n".join(logs.output))
