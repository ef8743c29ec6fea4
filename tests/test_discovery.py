"""Discovery (../shared/discovery.md): readers, ``manage.py discover``, runs and
reconciliation, triage, the pages.

Fixtures in tests/fixtures/discovery/ are hand-written exports in the shapes the CLIs
print (account 210987654321, cluster prod-eu, project acme-ml); the identities in
them are made to behave like agents (or not) one signal at a time.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.urls import reverse

from assessments import discovery
from assessments.actions import discovery as discovery_actions
from assessments.models import (
    Agent,
    AuditEvent,
    DiscoveredIdentity,
    DiscoveryRun,
    EvidenceProposal,
    Review,
)
from tests import factories as f

FIX = Path(__file__).parent / "fixtures" / "discovery"
ACCOUNT = FIX / "aws-account.json"
REPORT = FIX / "aws-credential-report.csv"
AGENT_ROLE = "arn:aws:iam::210987654321:role/agents/support-agent"
ADMIN_ROLE = "arn:aws:iam::210987654321:role/platform-admin"


def read(kind: str, *paths: Path, source: str | None = None) -> dict[str, discovery.Identity]:
    files = [discovery.load_path(p)[0] for p in paths]
    return {i.external_id: i for i in discovery.read(kind, files, source).identities}


def run_command(*args: str) -> dict:
    out = StringIO()
    call_command("discover", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as caught:
        call_command("discover", *args, stdout=StringIO())
    assert caught.value.returncode == 2
    return str(caught.value)


# --------------------------------------------------------------------------- readers


def test_aws_agent_role_that_calls_a_model_and_assumes_a_role_is_likely():
    found = read("aws", ACCOUNT, REPORT)
    agent = found[AGENT_ROLE]
    assert agent.agent_like == "likely"
    assert set(agent.signals) == {"model_access", "delegates", "declared_agent"}
    line = agent.signals["model_access"][0]
    assert line.where == "RoleDetailList[0].RolePolicyList[0].Statement[0]"
    assert "bedrock:InvokeModel" in line.says
    assert agent.owner_hint == "asha"
    assert agent.last_used.isoformat() == "2026-11-30"


def test_aws_administrator_that_could_call_a_model_is_not_agent_like():
    admin = read("aws", ACCOUNT)[ADMIN_ROLE]
    assert "model_access" not in admin.signals
    assert admin.agent_like == "no"
    assert "alters_own_access" in admin.signals  # Action * includes iam:PutRolePolicy


def test_aws_model_access_alone_is_possible():
    assert (
        read("aws", ACCOUNT)["arn:aws:iam::210987654321:role/summariser"].agent_like == "possible"
    )


def test_aws_users_last_use_comes_from_the_credential_report():
    found = read("aws", ACCOUNT, REPORT)
    deployer = found["arn:aws:iam::210987654321:user/ci-deployer"]
    assert deployer.last_used.isoformat() == "2026-11-28"
    assert "access key 1" in deployer.last_used_from
    assert read("aws", ACCOUNT)["arn:aws:iam::210987654321:user/ci-deployer"].last_used is None


def test_kubernetes_workload_with_provider_key_and_job_creation_is_likely():
    found = read(
        "kubernetes", FIX / "cluster-rbac.yaml", FIX / "cluster-workloads.yaml", source="prod-eu"
    )
    bot = found["system:serviceaccount:support:triage-bot"]
    assert bot.agent_like == "likely"
    says = " ".join(e.says for e in bot.signals["model_access"])
    assert "ANTHROPIC_API_KEY" in says and "langgraph" in says
    # the RBAC line points at the binding's place in the original file
    assert bot.signals["delegates"][0].where.startswith("document, items[3]")
    assert bot.owner_hint == "support-eng"
    assert found["system:serviceaccount:support:declared-helper"].agent_like == "possible"
    assert found["system:serviceaccount:monitoring:metrics-reader"].agent_like == "no"
    # the CronJob runs as the namespace's default account and is given MCP servers
    assert "tool_reach" in found["system:serviceaccount:support:default"].signals


def test_gcp_and_entra_readers():
    gcp = read("gcp", FIX / "gcp-service-accounts.json", FIX / "gcp-policy.json")
    assert gcp["rag-agent@acme-ml.iam.gserviceaccount.com"].agent_like == "likely"
    deployer = gcp["deployer@acme-ml.iam.gserviceaccount.com"]
    assert deployer.agent_like == "no" and "alters_own_access" in deployer.signals
    entra = read("entra", FIX / "entra-service-principals.json")
    agent = entra["5a1c0d8e-1111-4c2b-9f00-000000000001"]
    assert agent.agent_like == "likely"
    assert "Application.ReadWrite.OwnedBy" in agent.signals["alters_own_access"][0].says
    assert entra["5a1c0d8e-1111-4c2b-9f00-000000000002"].agent_like == "no"


def test_a_real_public_account_export_lists_every_role_and_user_and_no_agent():
    """Cloudsplaining's example export (BSD-3, see fixtures/discovery/public/README.md):
    administrators that could call a model through * are not agent-like."""
    path = FIX / "public" / "cloudsplaining-example.json"
    document = json.loads(path.read_text())
    arns = {r["Arn"] for key in ("RoleDetailList", "UserDetailList") for r in document[key]}
    found = read("aws", path)
    assert set(found) == arns and len(arns) == 122
    assert {i.agent_like for i in found.values()} == {"no"}
    admins = [i for i in found.values() if "every action of every service" in str(i.signals)]
    assert admins and all("model_access" not in i.signals for i in admins)
    again = read("aws", path)
    assert {k: v.grant_hash() for k, v in found.items()} == {
        k: v.grant_hash() for k, v in again.items()
    }


def test_signal_lists_are_data():
    assert "ANTHROPIC_API_KEY" in discovery.common.data().list("provider_env")
    assert discovery.common.agent_like({"declared_agent": [1], "tool_reach": [1]}) == "likely"
    assert discovery.common.agent_like({"tool_reach": [1], "delegates": [1]}) == "no"


# --------------------------------------------------------------------------- command


@pytest.mark.django_db
def test_discover_dry_run_lists_every_identity_and_stores_nothing():
    out = run_command(str(ACCOUNT), str(REPORT), "--kind", "aws", "--dry-run")
    assert out["source"] == "210987654321"
    assert len(out["identities"]) == 6
    assert {i["external_id"] for i in out["identities"] if i["agent_like"] == "likely"} == {
        AGENT_ROLE
    }
    assert out["files"][0]["sha256"]
    assert not DiscoveredIdentity.objects.exists() and not DiscoveryRun.objects.exists()


@pytest.mark.django_db
def test_discover_bad_input_exits_2_naming_the_file_and_stores_nothing(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [1, 2]\nb: *a\n")
    truncated = tmp_path / "cut.json"
    truncated.write_text(ACCOUNT.read_text()[:500])
    not_export = tmp_path / "notes.json"
    not_export.write_text('{"hello": "world"}')
    assert "bomb.yaml" in refused(str(bomb), "--kind", "kubernetes", "--source", "c")
    assert "cut.json" in refused(str(truncated), "--kind", "aws")
    assert "notes.json" in refused(str(not_export), "--kind", "aws")
    # a file of another kind
    assert "cluster-rbac.yaml" in refused(str(FIX / "cluster-rbac.yaml"), "--kind", "aws")
    assert "gcp-policy.json" in refused(str(FIX / "gcp-policy.json"), "--kind", "entra")
    assert "--source" in refused(str(FIX / "cluster-rbac.yaml"), "--kind", "kubernetes")
    assert not DiscoveredIdentity.objects.exists() and not DiscoveryRun.objects.exists()


# --------------------------------------------------------------------------- reconciliation


def _changed_account(tmp_path: Path) -> Path:
    data = json.loads(ACCOUNT.read_text())
    roles = data["RoleDetailList"]
    # summariser gains a role to assume (changed); ticket-writer goes (vanished); one new.
    roles[1]["RolePolicyList"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"}
    )
    del roles[2]
    new = json.loads(json.dumps(roles[0]))
    new.update(RoleName="new-role", RoleId="AROAEXAMPLE0000000009")
    new["Arn"] = "arn:aws:iam::210987654321:role/new-role"
    roles.append(new)
    path = tmp_path / "aws-account.json"
    path.write_text(json.dumps(data))
    return path


class ReconcileTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.team = f.team()

    def test_second_run_reports_new_changed_vanished_and_opens_reviews(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        summariser = DiscoveredIdentity.objects.get(external_id__endswith="role/summariser")
        writer = DiscoveredIdentity.objects.get(external_id__endswith="role/ticket-writer")
        linked = f.agent(name="Summariser", team=self.team, owner=self.assessor)
        other = f.agent(
            name="Ticket writer", slug="ticket-writer", team=self.team, owner=self.assessor
        )
        DiscoveredIdentity.objects.filter(pk=summariser.pk).update(agent=linked)
        DiscoveredIdentity.objects.filter(pk=writer.pk).update(agent=other)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            out = run_command(str(_changed_account(Path(tmp))), "--kind", "aws")
        self.assertEqual(
            (out["counts"]["new"], out["counts"]["changed"], out["counts"]["vanished"]), (1, 1, 1)
        )
        statuses = {i["external_id"].rsplit("/", 1)[1]: i["status"] for i in out["identities"]}
        self.assertEqual(statuses["new-role"], "new")
        self.assertEqual(statuses["summariser"], "changed")
        self.assertEqual(statuses["support-agent"], "unchanged")
        self.assertEqual(out["vanished"], [writer.external_id])
        drift = Review.objects.open().get(agent=linked)
        self.assertEqual(drift.reasons[0]["code"], "evidence_changed")
        self.assertIn("now acts through other identities", drift.reasons[0]["detail"])
        gone = Review.objects.open().get(agent=other)
        self.assertEqual(gone.reasons[0]["code"], "identity_vanished")
        self.assertTrue(AuditEvent.objects.filter(verb="discovery.run").count() == 2)

    def test_machine_triage_reopens_when_signals_change(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        summariser = DiscoveredIdentity.objects.get(external_id__endswith="role/summariser")
        discovery_actions.keep_as_machine(self.assessor, summariser, "batch summaries only")
        self.assertEqual(DiscoveredIdentity.objects.shadow().filter(pk=summariser.pk).count(), 0)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            run_command(str(_changed_account(Path(tmp))), "--kind", "aws")
        summariser.refresh_from_db()
        self.assertEqual(summariser.triage, "")
        self.assertTrue(AuditEvent.objects.filter(verb="discovery.reopen").exists())

    def test_decommission_stays_pending_until_a_run_no_longer_finds_it(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        writer = DiscoveredIdentity.objects.get(external_id__endswith="role/ticket-writer")
        discovery_actions.decommission_identity(self.assessor, writer, "no owner")
        self.assertEqual(DiscoveredIdentity.objects.decommission_pending().count(), 1)
        run_command(str(ACCOUNT), "--kind", "aws")  # still there: still pending
        self.assertEqual(DiscoveredIdentity.objects.decommission_pending().count(), 1)
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            run_command(str(_changed_account(Path(tmp))), "--kind", "aws")
        writer.refresh_from_db()
        self.assertEqual(writer.decommission_state, "done")
        self.assertEqual(DiscoveredIdentity.objects.decommission_pending().count(), 0)

    def test_decommission_refused_for_a_recently_used_owned_identity_and_dismissed_with_reason(
        self,
    ):
        run_command(str(ACCOUNT), "--kind", "aws")
        agent_role = DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)
        # used on 30 November 2026 and owned by asha: refused until 90 days later
        import time_machine

        with (
            time_machine.travel("2026-12-05"),
            self.assertRaises(discovery_actions.ActionError),
        ):
            discovery_actions.decommission_identity(self.assessor, agent_role)
        old_bot = DiscoveredIdentity.objects.get(external_id__endswith="user/old-bot")
        discovery_actions.decommission_identity(self.assessor, old_bot)
        with self.assertRaises(discovery_actions.ActionError):
            discovery_actions.dismiss_decommission(self.assessor, old_bot, "")
        discovery_actions.dismiss_decommission(self.assessor, old_bot, "still used by payroll")
        old_bot.refresh_from_db()
        self.assertEqual(old_bot.decommission_state, "dismissed")
        self.assertEqual(DiscoveredIdentity.objects.decommission_pending().count(), 0)

    def test_register_creates_the_agent_with_its_first_draft_and_pending_proposals(self):
        run_command(str(ACCOUNT), str(REPORT), "--kind", "aws")
        identity = DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)
        done = discovery_actions.register_identity(self.assessor, identity, team=self.team)
        identity.refresh_from_db()
        self.assertEqual(identity.agent, done.agent)
        self.assertEqual(done.agent.platform, "AWS")
        self.assertTrue(done.evidence_attached)
        pending = EvidenceProposal.objects.filter(upload__agent=done.agent, status="pending")
        self.assertIn("systems", set(pending.values_list("key", flat=True)))
        self.assertEqual(done.assessment.status, "draft")
        self.assertEqual(pending.first().upload.assessment, done.assessment)
        self.assertTrue(AuditEvent.objects.filter(verb="discovery.register").exists())
        self.assertEqual(DiscoveredIdentity.objects.shadow().filter(pk=identity.pk).count(), 0)

    def test_triage_is_for_assessors(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        identity = DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)
        with self.assertRaises(discovery_actions.ActionError):
            discovery_actions.keep_as_machine(f.viewer(), identity, "why not")


# --------------------------------------------------------------------------- pages


class PageTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.team = f.team()
        self.client.force_login(self.assessor)

    def upload(self, *paths: Path, kind: str = "aws", source: str = ""):
        files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in paths]
        return self.client.post(
            reverse("assessments:discovery"), {"kind": kind, "source": source, "uploads": files}
        )

    def test_upload_is_read_in_the_background_and_its_run_shows_the_counts(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.upload(ACCOUNT, REPORT)
        run = DiscoveryRun.objects.get()
        self.assertRedirects(response, run.get_absolute_url())
        run.refresh_from_db()
        self.assertEqual(run.status, "done")
        page = self.client.get(run.get_absolute_url())
        self.assertContains(page, 'id="run-counts"')
        self.assertEqual(DiscoveredIdentity.objects.count(), 6)

    def test_bad_upload_is_a_form_error_naming_the_file_and_stores_nothing(self):
        bad = SimpleUploadedFile("bomb.yaml", b"a: &a [1]\nb: *a\n")
        response = self.client.post(
            reverse("assessments:discovery"),
            {"kind": "kubernetes", "source": "c", "uploads": [bad]},
        )
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "bomb.yaml", status_code=400)
        other = self.upload(FIX / "gcp-policy.json", kind="aws")
        self.assertContains(other, "gcp-policy.json", status_code=400)
        self.assertFalse(DiscoveryRun.objects.exists())

    def test_identity_page_shows_signals_and_triage_buttons(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        identity = DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)
        page = self.client.get(identity.get_absolute_url())
        self.assertContains(page, "Calls a model")
        self.assertContains(page, "RoleDetailList[0].RolePolicyList[0].Statement[0]")
        self.assertContains(page, 'id="triage-forms"')

    def test_register_from_the_page_opens_the_agent(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        identity = DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)
        response = self.client.post(
            reverse("assessments:discovery_triage", args=[identity.pk]),
            {"action": "register", "team": self.team.pk},
        )
        agent = Agent.objects.get(identities=identity)
        self.assertRedirects(response, agent.get_absolute_url(), fetch_redirect_response=False)

    def test_bulk_triage_applies_to_the_filtered_selection(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        response = self.client.post(
            reverse("assessments:discovery_bulk_triage"),
            {"agent_like": "no", "action": "machine", "reason": "plain automation"},
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(DiscoveredIdentity.objects.machine().count(), 4)
        self.assertEqual(DiscoveredIdentity.objects.shadow().count(), 2)
        self.assertEqual(AuditEvent.objects.filter(verb="discovery.machine").count(), 4)

    def test_filters(self):
        run_command(str(ACCOUNT), "--kind", "aws")
        page = self.client.get(reverse("assessments:discovery"), {"agent_like": "likely"})
        self.assertContains(page, "support-agent")
        self.assertNotContains(page, "platform-admin")


class ListQueryTests(TestCase):
    def _seed(self, n: int) -> None:
        run = DiscoveryRun.objects.create(kind="aws", source="1", status="done")
        agent = Agent.objects.first() or f.agent(team=f.team("T"), owner=f.assessor("own"))
        DiscoveredIdentity.objects.bulk_create(
            DiscoveredIdentity(
                kind="aws",
                source="1",
                external_id=f"arn:aws:iam::111111111111:role/r{i}",
                name=f"r{i}",
                agent_like=("likely", "possible", "no")[i % 3],
                signals=[{"signal": "model_access", "evidence": []}],
                grant_hash="x",
                first_run=run,
                last_run=run,
                agent=agent if i % 2 else None,
            )
            for i in range(n)
        )

    def test_identity_list_keeps_a_constant_number_of_queries(self):
        viewer = f.viewer()
        self.client.force_login(viewer)
        url = reverse("assessments:discovery")
        self._seed(5)
        self.client.get(url)  # warm caches (session, roles)
        with self.assertNumQueries(NUM_QUERIES):
            self.client.get(url)
        DiscoveredIdentity.objects.all().delete()
        self._seed(500)
        with self.assertNumQueries(NUM_QUERIES):
            response = self.client.get(url)
        self.assertContains(response, "r0")


NUM_QUERIES = 10


class FigureTests(TestCase):
    """One definition per figure: the page, the dashboard, the API and the board pack all
    read portfolio.discovery_figures."""

    def setUp(self):
        run_command(str(ACCOUNT), str(REPORT), "--kind", "aws")
        self.assessor = f.assessor()
        old_bot = DiscoveredIdentity.objects.get(external_id__endswith="user/old-bot")
        discovery_actions.decommission_identity(self.assessor, old_bot)
        discovery_actions.register_identity(
            self.assessor, DiscoveredIdentity.objects.get(external_id=AGENT_ROLE), team=f.team()
        )

    def test_the_figures(self):
        from assessments import portfolio

        figures = portfolio.discovery_figures()
        self.assertEqual(figures.identities, 6)
        self.assertEqual((figures.agent_like, figures.linked, figures.coverage), (2, 1, 50))
        self.assertEqual(figures.shadow, 1)  # the summariser
        self.assertEqual(figures.decommission_pending, 1)
        self.assertEqual(
            figures.per_source,
            [
                {
                    "kind": "aws",
                    "source": "210987654321",
                    "count": 6,
                    "likely": 1,
                    "possible": 1,
                    "agent_like_total": 2,
                    "linked": 1,
                    "shadow": 1,
                    "machine": 0,
                    "decommission_pending": 1,
                }
            ],
        )

    def test_dashboard_api_and_board_pack_show_the_same_figures(self):
        from assessments.reports.board import BoardFilters, board_content

        self.client.force_login(self.assessor)
        page = self.client.get(reverse("assessments:dashboard"))
        self.assertContains(page, 'id="discovery-figures"')
        self.assertContains(page, "Inventory coverage: 1 of 2 agent-like identities linked")
        api = self.client.get("/api/v1/discovery/figures").json()
        self.assertEqual((api["shadow"], api["coverage"]), (1, 50))
        content = board_content(BoardFilters.from_params({}))
        self.assertEqual(content["discovery"]["shadow"], 1)
        self.assertEqual(content["discovery"]["coverage"], 50)
        team_pack = board_content(BoardFilters.from_params({"team": "platform"}))
        self.assertIsNone(team_pack["discovery"])
        definitions = self.client.get(reverse("assessments:figures"))
        self.assertContains(definitions, 'id="discovery"')


class ApiTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.team = f.team()
        self.client.force_login(self.assessor)

    def post(self, path: str, body: dict):
        return self.client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json")

    def test_a_pushed_export_is_read_in_the_background_and_triaged(self):
        body = {
            "kind": "aws",
            "files": [
                {"name": "authz.json", "content": ACCOUNT.read_text()},
                {"name": "report.csv", "content": REPORT.read_text()},
            ],
        }
        with self.captureOnCommitCallbacks(execute=True):
            response = self.post("/discovery/runs", body)
        self.assertEqual(response.status_code, 202, response.content)
        self.assertEqual(response.json()["status"], "queued")
        run = self.client.get(f"/api/v1/discovery/runs/{response.json()['id']}").json()
        self.assertEqual((run["status"], run["counts"]["likely"]), ("done", 1))
        listed = self.client.get("/api/v1/discovery/identities", {"agent_like": "likely"}).json()
        self.assertEqual([i["external_id"] for i in listed["results"]], [AGENT_ROLE])
        identity = listed["results"][0]
        self.assertEqual(identity["signals"][0]["signal"], "model_access")
        done = self.post(
            f"/discovery/identities/{identity['id']}/triage",
            {"action": "register", "team": self.team.slug},
        )
        self.assertEqual(done.status_code, 200, done.content)
        slug = done.json()["agents"][0]
        self.assertTrue(
            EvidenceProposal.objects.filter(upload__agent__slug=slug, status="pending").exists()
        )
        refused = self.post(
            f"/discovery/identities/{identity['id']}/triage", {"action": "machine", "reason": "x"}
        )
        self.assertEqual(refused.status_code, 422)

    def test_a_pushed_file_of_another_kind_is_refused_naming_it(self):
        response = self.post(
            "/discovery/runs",
            {"kind": "gcp", "files": [{"name": "authz.json", "content": ACCOUNT.read_text()}]},
        )
        self.assertEqual(response.status_code, 422)
        self.assertIn("authz.json", response.json()["detail"])
        truncated = self.post(
            "/discovery/runs",
            {"kind": "aws", "files": [{"name": "cut.json", "content": ACCOUNT.read_text()[:300]}]},
        )
        self.assertEqual(truncated.status_code, 422)
        self.assertIn("cut.json", truncated.json()["detail"])
        self.assertFalse(DiscoveryRun.objects.exists())
