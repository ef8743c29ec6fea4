"""Discovery on real public exports (issue 25 item 7): every identity listed with its
stable id, none of a documentation account's people and roles taken for an agent, and
the same file's role marked once it is made to behave like one."""

from __future__ import annotations

import json
import tempfile
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.test import TestCase

from assessments import discovery
from assessments.models import DiscoveredIdentity

CLI_EXAMPLE = (
    Path(__file__).parent
    / "fixtures"
    / "discovery"
    / "public"
    / "aws-cli-get-account-authorization-details.json"
)
ROLE = "arn:aws:iam::123456789012:role/EC2role"


def read(path: Path) -> dict[str, discovery.Identity]:
    file, _data = discovery.load_path(path)
    reading = discovery.read("aws", [file])
    assert reading.source == "123456789012"
    return {i.external_id: i for i in reading.identities}


def test_the_aws_cli_example_lists_every_role_and_user_by_its_arn():
    found = read(CLI_EXAMPLE)
    assert sorted(found) == [
        ROLE,
        "arn:aws:iam::123456789012:user/Alice",
        "arn:aws:iam::123456789012:user/Bob",
        "arn:aws:iam::123456789012:user/Charlie",
    ]
    assert found[ROLE].type == "role"
    assert found[ROLE].created.isoformat() == "2014-07-30"
    assert found["arn:aws:iam::123456789012:user/Alice"].type == "user"


def test_administrators_and_power_users_of_the_example_are_not_agent_like():
    # Alice and Bob are Admins (AdministratorAccess), Charlie a power user: nothing
    # names a model service, so none is an agent, whatever they could call.
    found = read(CLI_EXAMPLE)
    assert {i.agent_like for i in found.values()} == {"no"}
    assert all("model_access" not in i.signals for i in found.values())


def _made_an_agent(tmp: Path, *, delegates: bool) -> Path:
    data = json.loads(CLI_EXAMPLE.read_text())
    role = data["RoleDetailList"][0]
    statements = [{"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}]
    if delegates:
        statements.append({"Effect": "Allow", "Action": "states:StartExecution", "Resource": "*"})
    role["RolePolicyList"] = [
        {
            "PolicyName": "agent",
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        }
    ]
    path = tmp / "authz.json"
    path.write_text(json.dumps(data))
    return path


def test_its_role_made_to_call_a_model_is_possible_and_likely_once_it_delegates():
    with tempfile.TemporaryDirectory() as tmp:
        calls = read(_made_an_agent(Path(tmp), delegates=False))[ROLE]
        acts = read(_made_an_agent(Path(tmp), delegates=True))[ROLE]
    assert (calls.agent_like, set(calls.signals)) == ("possible", {"model_access"})
    assert "bedrock:InvokeModel" in calls.signals["model_access"][0].says
    assert calls.signals["model_access"][0].where.startswith("RoleDetailList[0].RolePolicyList[0]")
    assert acts.agent_like == "likely"
    assert "delegates" in acts.signals


class DiscoverCommandTests(TestCase):
    def test_discover_stores_the_example_and_a_second_run_finds_it_unchanged(self):
        for _round in (1, 2):
            out = StringIO()
            call_command(
                "discover", str(CLI_EXAMPLE), "--kind", "aws", "--format", "json", stdout=out
            )
            payload = json.loads(out.getvalue())
        self.assertEqual(payload["source"], "123456789012")
        self.assertEqual(payload["counts"]["identities"], 4)
        self.assertEqual(payload["counts"]["unchanged"], 4)
        self.assertEqual(
            set(DiscoveredIdentity.objects.values_list("agent_like", flat=True)), {"no"}
        )
