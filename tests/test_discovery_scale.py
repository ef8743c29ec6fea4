"""Discovery at scale (issue 25 item 6): a run writes only what changed, in a number of
queries that does not grow with the identities, and the unchanged rows keep the lines
of the run they were read in."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from assessments import discovery
from assessments.actions import discovery as discovery_actions
from assessments.models import DiscoveredIdentity, DiscoveryRun
from bench.discovery import aws_account

FIX = Path(__file__).parent / "fixtures" / "discovery"
ACCOUNT = FIX / "aws-account.json"


def run_files(*paths: Path, kind: str = "aws", source: str = "") -> DiscoveryRun:
    loaded = [discovery.load_path(p) for p in paths]
    parsed = [file for file, _data in loaded]
    raw = [(file.name, data) for file, data in loaded]
    reading = discovery.read(kind, parsed, source or None)
    run = discovery_actions.store_run(None, kind, raw, parsed, source=source)
    return discovery_actions.reconcile(run, reading, raw)


class RewriteTests(TestCase):
    def test_the_same_export_renamed_and_shifted_rewrites_no_row(self):
        first = run_files(ACCOUNT)
        data = json.loads(ACCOUNT.read_text())
        added = json.loads(json.dumps(data["RoleDetailList"][3]))  # platform-admin's shape
        added.update(RoleName="aaa-first", RoleId="AROAEXAMPLE0000000042")
        added["Arn"] = "arn:aws:iam::210987654321:role/aaa-first"
        data["RoleDetailList"].insert(0, added)  # every other role's position moves
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "authz-december.json"
            path.write_text(json.dumps(data))
            second = run_files(path)
        agent = DiscoveredIdentity.objects.get(external_id__endswith="role/agents/support-agent")
        self.assertEqual(agent.status, "unchanged")
        self.assertEqual(agent.last_run, second)
        self.assertEqual(agent.read_in, first)  # not rewritten: the lines of the first run
        self.assertEqual(agent.location["file"], str(ACCOUNT))
        self.assertEqual(agent.location["where"], "RoleDetailList[0]")
        new = DiscoveredIdentity.objects.get(external_id__endswith="role/aaa-first")
        self.assertEqual((new.status, new.read_in), ("new", second))
        self.assertEqual(new.location["where"], "RoleDetailList[0]")
        self.assertEqual(second.counts["unchanged"], second.counts["identities"] - 1)
        self.assertEqual(second.counts["new"], 1)

    def test_a_new_last_use_is_written_though_the_grants_are_the_same(self):
        run_files(ACCOUNT)
        data = json.loads(ACCOUNT.read_text())
        data["RoleDetailList"][0]["RoleLastUsed"]["LastUsedDate"] = "2026-12-05T10:00:00Z"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "aws-account.json"
            path.write_text(json.dumps(data))
            second = run_files(path)
        agent = DiscoveredIdentity.objects.get(external_id__endswith="role/agents/support-agent")
        self.assertEqual(agent.status, "unchanged")  # its grants did not change
        self.assertEqual(agent.last_used.isoformat(), "2026-12-05")
        self.assertEqual(agent.read_in, second)
        self.assertEqual(agent.location["file"], str(path))

    def test_the_identity_page_says_which_run_its_lines_are_from(self):
        from tests import factories as f

        first = run_files(ACCOUNT)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "again.json"
            path.write_bytes(ACCOUNT.read_bytes())
            run_files(path)
        agent = DiscoveredIdentity.objects.get(external_id__endswith="role/agents/support-agent")
        self.client.force_login(f.administrator())
        page = self.client.get(agent.get_absolute_url())
        self.assertContains(page, "in the files of the run of")
        self.assertContains(page, str(ACCOUNT))
        self.assertEqual(agent.read_in, first)


class QueryCountTests(TestCase):
    def _queries(self, roles: int, users: int, tmp: Path) -> tuple[int, int]:
        counts = []
        for round_, changed in ((1, False), (2, True)):
            path = tmp / f"account-{roles}-{round_}.json"
            path.write_text(json.dumps(aws_account(roles, users, 7, changed=changed)))
            file, data = discovery.load_path(path)
            reading = discovery.read("aws", [file])
            run = discovery_actions.store_run(None, "aws", [(file.name, data)], [file])
            with CaptureQueriesContext(connection) as queries:
                discovery_actions.reconcile(run, reading, [(file.name, data)])
            counts.append(len(queries))
        DiscoveredIdentity.objects.all().delete()
        return counts[0], counts[1]

    def test_a_run_takes_as_many_queries_for_60_identities_as_for_600(self):
        # aws_account(changed=True) adds a grant to one role in 500 and drops the last 50.
        with tempfile.TemporaryDirectory() as tmp:
            small = self._queries(60, 10, Path(tmp))
            large = self._queries(600, 100, Path(tmp))
        self.assertEqual(small, large)
