from __future__ import annotations

import datetime as dt
from unittest import skipUnless

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import actions, portfolio
from assessments.models import Agent, AgentLink, AuditEvent, Review, System
from tests import factories as f


def _bulk_agents(count: int, owner, team) -> None:
    _bulk_agents_from(0, count, owner, team)


def _bulk_agents_from(start: int, stop: int, owner, team) -> None:
    agents = Agent.objects.bulk_create(
        Agent(name=f"Bulk {i:04d}", slug=f"bulk-{i:04d}", purpose="x", owner=owner, team=team)
        for i in range(start, stop)
    )
    System.objects.bulk_create(
        System(agent=a, name=f"sys-{j}", access="write" if j else "read")
        for a in agents
        for j in range(3)
    )


class AgentListTests(TestCase):
    def setUp(self):
        self.viewer = f.viewer()
        self.client.force_login(self.viewer)

    def _queries_for_list(self, count: int) -> int:
        Agent.objects.all().delete()
        _bulk_agents(count, self.viewer, f.team())
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(reverse("assessments:agent_list"))
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def test_list_query_count_is_the_same_for_5_and_500_agents(self):
        small = self._queries_for_list(5)
        large = self._queries_for_list(500)
        self.assertEqual(small, large)
        # And it is pinned, so a new per-page query is a deliberate change.
        Agent.objects.all().delete()
        _bulk_agents(60, self.viewer, f.team())
        with self.assertNumQueries(small):
            self.client.get(reverse("assessments:agent_list"))
        # A deep page costs the same queries as the first; a search one fewer (it reads
        # every agent, so it counts them with the page, in one pass).
        _bulk_agents_from(60, 500, self.viewer, f.team("Deep"))
        with self.assertNumQueries(small):
            self.client.get(reverse("assessments:agent_list"), {"page": "9"})
        for query in ({"q": "bulk 04", "sort": "-current_tier"}, {"q": "bulk", "page": "7"}):
            with self.subTest(query=query), self.assertNumQueries(small - 1):
                response = self.client.get(reverse("assessments:agent_list"), query)
            self.assertEqual(len(response.context["agents"]), 50)
        response = self.client.get(reverse("assessments:agent_list"), {"q": "bulk", "page": "99"})
        self.assertContains(response, "Page 10 of 10")

    def test_list_pages_fifty_at_a_time(self):
        _bulk_agents(120, self.viewer, f.team())
        response = self.client.get(reverse("assessments:agent_list"), {"page": 3})
        self.assertEqual(len(response.context["agents"]), 20)
        self.assertContains(response, "Page 3 of 3")

    def test_each_page_follows_the_sort_order(self):
        _bulk_agents(120, self.viewer, f.team())
        Agent.objects.update(current_tier=1)
        Agent.objects.filter(name__in=["Bulk 0007", "Bulk 0093"]).update(current_tier=4)
        url = reverse("assessments:agent_list")
        page_2 = self.client.get(url, {"page": 2}).context["agents"]
        self.assertEqual([a.name for a in page_2], [f"Bulk {i:04d}" for i in range(50, 100)])
        by_tier = self.client.get(url, {"sort": "-current_tier"}).context["agents"]
        self.assertEqual([a.name for a in by_tier[:3]], ["Bulk 0007", "Bulk 0093", "Bulk 0000"])
        last = self.client.get(url, {"sort": "-current_tier", "page": 3}).context["agents"]
        self.assertEqual([a.name for a in last][-1], "Bulk 0119")

    def test_search_finds_agents_by_name_slug_owner_and_system(self):
        owner = f.user("marta.owner", "viewer", first_name="Marta")
        f.agent(owner, name="Ledger bot", slug="ledger-bot", systems=[("sap-erp", "write")])
        f.agent(name="Other", slug="other-thing")
        url = reverse("assessments:agent_list")
        for term in ["Ledger", "ledger-bot", "marta", "sap-erp"]:
            response = self.client.get(url, {"q": term})
            self.assertEqual([a.slug for a in response.context["agents"]], ["ledger-bot"], term)

    @skipUnless(connection.vendor == "postgresql", "trigram indexes are PostgreSQL's")
    def test_on_postgresql_each_part_of_a_search_can_read_its_trigram_index(self):
        f.agent(name="Ledger bot", slug="ledger-bot", systems=[("sap-erp", "write")])
        query = Agent.objects.search("ledger").values("pk").query
        sql, params = query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # as on a large table
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        for index in ("agent_name_trgm", "agent_slug_trgm", "system_name_trgm"):
            self.assertIn(index, plan)

    def test_search_lists_an_agent_once_whatever_matches_and_keeps_other_filters(self):
        owner = f.user("ledger.keeper", "viewer", last_name="Ledgerwood")
        owner.email = "lw@books.example"
        owner.save()
        f.agent(
            owner,
            name="Ledger bot",
            slug="ledger-bot",
            systems=[("ledger-db", "write"), ("ledger-api", "read")],
        )
        f.agent(name="Payroll", slug="payroll", systems=[("general-ledger", "read")])
        url = reverse("assessments:agent_list")
        response = self.client.get(url, {"q": "ledger"})
        self.assertEqual([a.slug for a in response.context["agents"]], ["ledger-bot", "payroll"])
        self.assertEqual(response.context["page"].paginator.count, 2)
        for term in ("ledgerwood", "lw@books"):
            response = self.client.get(url, {"q": term})
            self.assertEqual([a.slug for a in response.context["agents"]], ["ledger-bot"], term)
        Agent.objects.filter(slug="payroll").update(status=Agent.Status.RETIRED)
        response = self.client.get(url, {"q": "ledger"})
        self.assertEqual([a.slug for a in response.context["agents"]], ["ledger-bot"])

    def test_filters_by_status_team_class_and_tier(self):
        ops = f.team("Ops")
        a = f.agent(slug="a-ops", team=ops)
        f.agent(slug="b-other")
        Agent.objects.filter(pk=a.pk).update(
            current_classification="agent_identity", current_tier=3
        )
        url = reverse("assessments:agent_list")
        self.assertEqual(
            [x.slug for x in self.client.get(url, {"team": "ops"}).context["agents"]], ["a-ops"]
        )
        self.assertEqual(
            [x.slug for x in self.client.get(url, {"tier": "3"}).context["agents"]], ["a-ops"]
        )
        unassessed = self.client.get(url, {"classification": "unassessed"}).context["agents"]
        self.assertEqual([x.slug for x in unassessed], ["b-other"])
        retired = self.client.get(url, {"status": "retired"}).context["agents"]
        self.assertEqual(list(retired), [])

    def test_nonsense_query_strings_are_ignored_not_errors(self):
        f.agent(slug="still-here")
        response = self.client.get(
            reverse("assessments:agent_list"),
            {"tier": "x", "team": "nope", "sort": "password", "page": "-9", "status": "zzz"},
        )
        self.assertEqual(response.status_code, 200)

    def test_sorting_by_next_review(self):
        # Next review is the open review's due date, not the agent's scheduled date.
        a = f.agent(slug="later")
        b = f.agent(slug="sooner")
        Agent.objects.filter(pk=a.pk).update(next_review_on="2026-12-01")
        Agent.objects.filter(pk=b.pk).update(next_review_on="2027-05-01")
        Review.objects.create(agent=a, due_on=dt.date(2027, 5, 1))
        Review.objects.create(agent=b, due_on=dt.date(2027, 1, 1))
        # A closed review is no next review: that agent comes last.
        done = f.agent(slug="reviewed")
        Review.objects.create(agent=done, due_on=dt.date(2026, 1, 1), state=Review.State.CLOSED)
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(
                reverse("assessments:agent_list"), {"sort": "next_review_on"}
            )
        self.assertEqual(
            [x.slug for x in response.context["agents"]], ["sooner", "later", "reviewed"]
        )
        # The open review is joined to sort the agents, not to count them.
        counts = [q["sql"] for q in ctx.captured_queries if "COUNT(*)" in q["sql"]]
        self.assertTrue(counts)
        for sql in counts:
            if '"assessments_agent"' in sql.split("FROM", 1)[1][:40]:
                self.assertNotIn("assessments_review", sql)

    def test_htmx_filter_returns_only_the_results_fragment(self):
        f.agent(slug="frag")
        response = self.client.get(
            reverse("assessments:agent_list"),
            headers={"HX-Request": "true", "HX-Target": "agent-results"},
        )
        self.assertContains(response, 'id="agent-results"')
        self.assertNotContains(response, "<html")
        self.assertIn("HX-Request", response.headers["Vary"])

    def test_empty_inventory_shows_an_invitation_to_register(self):
        self.client.force_login(f.assessor())
        response = self.client.get(reverse("assessments:agent_list"))
        self.assertContains(response, "No agents yet")
        self.assertContains(response, "Register an agent")


def _form_data(**overrides):
    data = {
        "name": "Invoice bot",
        "slug": "invoice-bot",
        "purpose": "Routes invoices.",
        "owner": "",
        "team": "",
        "environments": ["production"],
        "platform": "Kubernetes",
        "credential_model": "workload_identity",
        "systems-TOTAL_FORMS": "0",
        "systems-INITIAL_FORMS": "0",
        "links-TOTAL_FORMS": "0",
        "links-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


class AgentFormTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.team = f.team()
        self.client.force_login(self.assessor)

    def post_create(self, **overrides):
        data = _form_data(owner=str(self.assessor.pk), team=str(self.team.pk), **overrides)
        return self.client.post(reverse("assessments:agent_create"), data)

    def test_assessor_registers_an_agent_with_systems_and_links(self):
        other = f.agent(slug="payments")
        response = self.post_create(
            **{
                "systems-TOTAL_FORMS": "2",
                "systems-0-name": "erp",
                "systems-0-access": "write",
                "systems-1-name": "docs",
                "systems-1-access": "read",
                "links-TOTAL_FORMS": "1",
                "links-0-kind": "orchestrated_by",
                "links-0-other": "payments",
            }
        )
        agent = Agent.objects.get(slug="invoice-bot")
        self.assertRedirects(response, agent.get_absolute_url())
        self.assertEqual(
            sorted(agent.systems.values_list("name", "access")),
            [("docs", "read"), ("erp", "write")],
        )
        link = AgentLink.objects.get()
        self.assertEqual((link.source, link.target, link.kind), (other, agent, "orchestrates"))
        event = AuditEvent.objects.for_object(agent).get(verb="agent.create")
        self.assertEqual(event.actor, self.assessor)
        self.assertEqual(event.changes["fields"]["name"], "Invoice bot")
        self.assertEqual(len(event.changes["systems"]), 2)

    def test_slug_is_made_from_the_name_when_left_empty(self):
        self.post_create(slug="", name="Nightly Export Job")
        self.assertTrue(Agent.objects.filter(slug="nightly-export-job").exists())

    def test_duplicate_slug_is_refused_with_a_clear_message(self):
        f.agent(slug="invoice-bot")
        response = self.post_create()
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "already used by another agent", status_code=422)
        self.assertEqual(Agent.objects.filter(slug="invoice-bot").count(), 1)

    def test_duplicate_system_names_are_refused(self):
        response = self.post_create(
            **{
                "systems-TOTAL_FORMS": "2",
                "systems-0-name": "ERP",
                "systems-0-access": "read",
                "systems-1-name": "erp",
                "systems-1-access": "write",
            }
        )
        self.assertContains(response, "listed twice", status_code=422)
        self.assertFalse(Agent.objects.filter(slug="invoice-bot").exists())

    def test_a_link_to_itself_or_to_an_unknown_agent_is_refused(self):
        agent = f.agent(slug="selfish", owner=self.assessor, team=self.team)
        data = _form_data(
            name="Selfish",
            slug="selfish",
            owner=str(self.assessor.pk),
            team=str(self.team.pk),
            **{
                "links-TOTAL_FORMS": "2",
                "links-0-kind": "peer",
                "links-0-other": "selfish",
                "links-1-kind": "peer",
                "links-1-other": "ghost",
            },
            lock_version=str(agent.lock_version),
        )
        response = self.client.post(reverse("assessments:agent_edit", args=["selfish"]), data)
        self.assertContains(response, "cannot be linked to itself", status_code=422)
        self.assertContains(response, "No agent has the slug", status_code=422)
        self.assertFalse(AgentLink.objects.exists())

    def test_missing_required_fields_change_nothing(self):
        response = self.post_create(name="", purpose="", slug="")
        self.assertEqual(response.status_code, 422)
        self.assertFalse(Agent.objects.exists())
        self.assertFalse(AuditEvent.objects.filter(verb="agent.create").exists())

    def test_rows_can_be_added_and_removed_without_javascript(self):
        response = self.post_create(
            **{
                "systems-TOTAL_FORMS": "1",
                "systems-0-name": "erp",
                "systems-0-access": "read",
                "add_systems": "1",
            }
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["systems"].total_form_count(), 2)
        self.assertFalse(Agent.objects.exists())
        response = self.post_create(
            **{
                "systems-TOTAL_FORMS": "1",
                "systems-0-name": "erp",
                "systems-0-access": "read",
                "remove_systems": "0",
            }
        )
        self.assertContains(response, 'name="systems-0-DELETE" value="on"')
        # Saving with the row marked removed saves no system.
        self.post_create(
            **{
                "systems-TOTAL_FORMS": "1",
                "systems-0-name": "erp",
                "systems-0-access": "read",
                "systems-0-DELETE": "on",
            }
        )
        self.assertFalse(Agent.objects.get(slug="invoice-bot").systems.exists())

    def test_htmx_add_row_returns_the_row_and_bumps_the_form_count(self):
        response = self.client.get(
            reverse("assessments:agent_form_row", args=["systems"]),
            {"index": "3"},
            headers={"HX-Request": "true"},
        )
        self.assertContains(response, 'name="systems-3-name"')
        self.assertContains(response, 'id="id_systems-TOTAL_FORMS" value="4" hx-swap-oob="true"')
        self.assertContains(response, "index=4")

    def test_htmx_remove_row_keeps_its_values_and_marks_it_deleted(self):
        response = self.client.get(
            reverse("assessments:agent_form_row", args=["systems"]),
            {"index": "0", "op": "remove", "systems-0-name": "erp", "systems-0-access": "admin"},
        )
        self.assertContains(response, 'value="erp"')
        self.assertContains(response, 'name="systems-0-DELETE" value="on"')
        self.assertContains(response, "Undo")

    def test_bad_row_requests_answer_400(self):
        url = reverse("assessments:agent_form_row", args=["systems"])
        self.assertEqual(self.client.get(url, {"index": "x"}).status_code, 400)
        self.assertEqual(self.client.get(url, {"index": "999"}).status_code, 400)
        self.assertEqual(self.client.get(url, {"index": "1", "op": "drop"}).status_code, 400)
        bad_kind = reverse("assessments:agent_form_row", args=["widgets"])
        self.assertEqual(self.client.get(bad_kind, {"index": "1"}).status_code, 400)

    def test_lookup_suggests_agents_by_the_typed_slug(self):
        f.agent(slug="payments-agent", name="Payments")
        response = self.client.get(reverse("assessments:agent_lookup"), {"links-0-other": "paym"})
        self.assertContains(response, 'value="payments-agent"')


class AgentEditTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.client.force_login(self.assessor)
        self.agent = f.agent(slug="bot", systems=[("erp", "read")], owner=self.assessor)

    def edit(self, version=None, **overrides):
        data = _form_data(
            name=self.agent.name,
            slug="bot",
            owner=str(self.agent.owner_id),
            team=str(self.agent.team_id),
            purpose=self.agent.purpose,
            lock_version=str(self.agent.lock_version if version is None else version),
            **{
                "systems-TOTAL_FORMS": "1",
                "systems-INITIAL_FORMS": "1",
                "systems-0-name": "erp",
                "systems-0-access": "read",
            },
        )
        data.update(overrides)
        return self.client.post(reverse("assessments:agent_edit", args=["bot"]), data)

    def test_edit_writes_old_and_new_values_to_the_audit_log(self):
        self.edit(purpose="Routes invoices to approvers.")
        event = AuditEvent.objects.get(verb="agent.update")
        self.assertEqual(
            event.changes["fields"]["purpose"],
            {"old": "Does useful things.", "new": "Routes invoices to approvers."},
        )

    def test_a_stale_edit_is_refused_with_409_and_both_values(self):
        self.edit(purpose="First writer wins.")
        response = self.edit(version=0, purpose="Second writer was looking at old data.")
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "Someone else saved this agent", status_code=409)
        self.assertContains(response, "First writer wins.", status_code=409)
        self.assertContains(response, "Second writer was looking at old data.", status_code=409)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.purpose, "First writer wins.")

    def test_an_edit_without_its_version_is_a_400_that_changes_nothing(self):
        self.edit(purpose="Someone else's change.")
        before = AuditEvent.objects.count()
        for version in ["", "abc", "-1", "99999999999999999999999"]:
            with self.subTest(version=version):
                response = self.edit(purpose="Would silently undo it.", lock_version=version)
                self.assertEqual(response.status_code, 400)
        # The field left out altogether.
        response = self.client.post(
            reverse("assessments:agent_edit", args=["bot"]),
            {"name": "x", "slug": "bot", "purpose": "Would silently undo it."},
        )
        self.assertEqual(response.status_code, 400)
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.purpose, "Someone else's change.")
        self.assertEqual(AuditEvent.objects.count(), before)

    def test_a_stale_edit_shows_both_sides_of_systems_and_people_in_words(self):
        other = f.assessor("bea")
        self.edit(owner=str(other.pk), **{"systems-0-access": "write"})
        response = self.edit(version=0, purpose="Mine.")
        self.assertEqual(response.status_code, 409)
        table = response.content.decode().split('class="table table-sm conflict-table')[1]
        table = table.split("</table>")[0]
        self.assertIn("<td>bea</td><td>ada</td>", table)
        self.assertIn("<td>erp (write)</td><td>erp (read)</td>", table)
        self.agent.refresh_from_db()
        self.assertEqual((self.agent.owner, self.agent.purpose), (other, "Does useful things."))
        self.assertEqual(self.agent.systems.get().access, "write")

    def test_descriptive_edits_trigger_no_review(self):
        self.edit(purpose="New words.", name="Renamed bot", environments=["staging"])
        self.assertFalse(Review.objects.exists())

    def test_raising_a_system_to_write_triggers_a_review(self):
        self.edit(**{"systems-0-access": "write"})
        review = Review.objects.get(agent=self.agent)
        self.assertIn("raised from read to write", review.reasons[0]["detail"])

    def test_retire_keeps_the_record_and_blocks_edits(self):
        response = self.client.post(reverse("assessments:agent_retire", args=["bot"]))
        self.assertRedirects(response, self.agent.get_absolute_url())
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.status, "retired")
        self.assertTrue(AuditEvent.objects.filter(verb="agent.retire").exists())
        response = self.client.get(reverse("assessments:agent_edit", args=["bot"]))
        self.assertRedirects(response, self.agent.get_absolute_url())

    def test_reactivating_a_retired_agent_triggers_a_review(self):
        self.client.post(reverse("assessments:agent_retire", args=["bot"]))
        self.client.post(reverse("assessments:agent_reactivate", args=["bot"]))
        self.agent.refresh_from_db()
        self.assertEqual(self.agent.status, "active")
        self.assertTrue(Review.objects.open().filter(agent=self.agent).exists())

    def test_viewer_cannot_edit_or_retire(self):
        self.client.force_login(f.viewer())
        self.assertEqual(self.edit(purpose="hacked").status_code, 403)
        self.assertEqual(
            self.client.post(reverse("assessments:agent_retire", args=["bot"])).status_code, 403
        )
        self.agent.refresh_from_db()
        self.assertEqual((self.agent.purpose, self.agent.status), ("Does useful things.", "active"))


class AssessmentStateFilterTests(TestCase):
    def test_each_state_filter_holds_the_agents_in_that_state(self):
        assessor, reviewer = f.assessor(), f.reviewer()
        f.agent(slug="never", name="Never")
        f.answered(f.agent(slug="draft", name="Draft"), assessor)
        actions.submit_assessment(
            assessor, f.answered(f.agent(slug="submitted", name="Submitted"), assessor)
        )
        back = actions.submit_assessment(
            assessor, f.answered(f.agent(slug="returned", name="Returned"), assessor)
        )
        actions.return_assessment(reviewer, back, comment="Say more about the systems.")
        decided = f.agent(slug="decided", name="Decided")
        f.approved(decided, assessor, reviewer)
        again = f.agent(slug="again", name="Again")  # decided, and a new draft since
        f.approved(again, assessor, reviewer)
        f.answered(again, assessor)
        states = dict(Agent.objects.with_assessment_state().values_list("slug", "assessment_state"))
        self.assertEqual(
            states,
            {
                "never": "never_started",
                "draft": "in_draft",
                "submitted": "pending_decision",
                "returned": "returned",
                "decided": "decided",
                "again": "in_draft",
            },
        )
        for state in portfolio.STATE_FILTERS:
            with self.subTest(state=state):
                found = portfolio.filter_assessment_state(Agent.objects.all(), state)
                self.assertEqual(
                    sorted(found.values_list("slug", flat=True)),
                    sorted(slug for slug, s in states.items() if s == state),
                )
