"""Evidence analysers v2 (../shared/evidence.md, the "v2" sections) on real public files.

The files under fixtures/evidence/public/ are named with their source and licence in
that folder's README: AWS managed policies, BishopFox's iam-vulnerable lab as a
Terraform plan, Kubernetes' bootstrap RBAC, Argo CD's manifests and an MCP
configuration. A few cases no public file shows (a time-bound condition, a boundary) are
written here, small, next to the assertion they serve.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from assessments import evidence
from assessments.evidence import EvidenceError, PrincipalNotFound, parse_bytes, yamlsafe
from tests.evidence_helpers import FIXTURES, proposal, says

PUBLIC = FIXTURES / "public"
LAB = "terraform-plan-iam-vulnerable.json"


def run(kind: str, *names: str, principal: str | None = None, **kwargs) -> evidence.Analysis:
    files = [evidence.load_path(PUBLIC / name) for name in names]
    return evidence.analyse(kind, files, principal, **kwargs)


def steps(p: evidence.Proposal) -> list[str]:
    return [e.says.split(":", 1)[0] for e in p.evidence]


# --------------------------------------------------------------- AWS: removals


def test_admin_in_quarantine_can_detach_the_quarantine_policy():
    # AdministratorAccess + AWSCompromisedKeyQuarantineV2 (both verbatim): the Deny lists
    # DetachUserPolicy but not DetachRolePolicy, so the role can remove it from itself.
    analysis = run(
        "aws",
        "aws-quarantined-admin.json",
        principal="arn:aws:iam::111122223333:role/quarantined-admin",
    )
    p = proposal(analysis, "alters_own_access")
    assert (p.value, p.rule) == (True, "aws.remove_limit")
    assert steps(p)[:3] == ["Step 1", "Step 2", "Step 3"]
    assert "iam:DetachRolePolicy on arn:aws:iam::111122223333:role/quarantined-admin" in (
        p.evidence[0].says
    )
    assert "AWSCompromisedKeyQuarantineV2" in p.evidence[1].says
    assert "what remains allows: iam:PutRolePolicy" in p.evidence[2].says


def test_quarantine_that_also_denies_its_own_detachment_holds():
    account = json.loads((PUBLIC / "aws-quarantined-admin.json").read_text())
    deny = account["Policies"][1]["PolicyVersionList"][0]["Document"]["Statement"][0]
    deny["Action"] += ["iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:Delete*"]
    deny["Action"] += ["ssm:*", "lambda:*", "ec2-instance-connect:*", "sts:*"]
    file = parse_bytes("sealed.json", json.dumps(account).encode())
    analysis = evidence.analyse("aws", [file], "arn:aws:iam::111122223333:role/quarantined-admin")
    p = proposal(analysis, "alters_own_access")
    assert (p.value, p.rule) == (False, "aws.no_self_modification")


def test_a_boundary_it_may_delete_is_a_path_and_a_boundary_narrows_the_grant():
    boundary = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:*", "iam:DeleteRolePermissionsBoundary"],
                "Resource": "*",
            }
        ],
    }
    doc = {
        "RoleDetailList": [
            {
                "RoleName": "bounded",
                "Arn": "arn:aws:iam::111122223333:role/bounded",
                "AssumeRolePolicyDocument": {"Statement": []},
                "PermissionsBoundary": {
                    "PermissionsBoundaryType": "Policy",
                    "PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/s3-only",
                },
                "RolePolicyList": [
                    {
                        "PolicyName": "wide",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                        },
                    }
                ],
                "AttachedManagedPolicies": [],
            }
        ],
        "Policies": [
            {
                "PolicyName": "s3-only",
                "Arn": "arn:aws:iam::111122223333:policy/s3-only",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": True, "Document": boundary}
                ],
            }
        ],
    }
    analysis = evidence.analyse(
        "aws",
        [parse_bytes("b.json", json.dumps(doc).encode())],
        "arn:aws:iam::111122223333:role/bounded",
    )
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "aws.remove_limit"
    assert "iam:DeleteRolePermissionsBoundary" in p.evidence[0].says
    assert "permissions boundary s3-only" in p.evidence[1].says
    # The boundary narrows what the role reaches: s3 and iam only, not every service.
    names = {s["name"] for s in proposal(analysis, "systems").value}
    assert names == {"s3", "iam"}


# --------------------------------------------------------------- AWS: other identities


def test_lab_lambda_update_function_code_acts_as_the_high_privilege_role():
    analysis = run(
        "aws", LAB, principal="aws_iam_role.privesc17-EditExistingLambdaFunctionWithRole-role"
    )
    p = proposal(analysis, "alters_own_access")
    assert (p.value, p.rule) == (True, "aws.compute_takeover")
    assert steps(p)[:3] == ["Step 1", "Step 2", "Step 3"]
    assert "lambda:UpdateFunctionCode" in p.evidence[0].says
    assert "privesc-high-priv-service-role, which trusts lambda.amazonaws.com" in (
        p.evidence[1].says
    )
    assert p.evidence[2].says.startswith("Step 3: privesc-high-priv-service-role holds: ")


def test_lab_ssm_send_command_acts_as_the_instance_profile_role():
    analysis = run("aws", LAB, principal="aws_iam_role.privesc-ssmSendCommand-role")
    p = proposal(analysis, "alters_own_access")
    assert (p.value, p.rule) == (True, "aws.instance_command")
    assert "ssm:SendCommand" in p.evidence[0].says
    assert "instance profile privesc-high-priv-service-profile" in p.evidence[1].says


def test_lab_plan_reads_attachments_through_the_configuration_references():
    analysis = run("aws", LAB, principal="privesc-high-priv-service-role")
    assert proposal(analysis, "alters_own_access").rule == "aws.self_policy_write"
    where = {e.where for e in proposal(analysis, "alters_own_access").evidence}
    assert where == {"aws_iam_policy.privesc-high-priv-service-policy.Statement[0]"}


def test_ssm_send_command_without_any_instance_role_in_the_account_is_not_a_path():
    plan = json.loads((PUBLIC / LAB).read_text())
    resources = plan["planned_values"]["root_module"]["resources"]
    plan["planned_values"]["root_module"]["resources"] = [
        r for r in resources if "high-priv" not in r["address"]
    ]
    file = parse_bytes("plan.json", json.dumps(plan).encode())
    analysis = evidence.analyse("aws", [file], "aws_iam_role.privesc-ssmSendCommand-role")
    assert proposal(analysis, "alters_own_access").value is False


def test_policy_documents_alone_still_propose_the_path_saying_the_grants_are_missing():
    doc = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ssm:SendCommand"], "Resource": "*"}],
    }
    analysis = evidence.analyse(
        "aws",
        [parse_bytes("p.json", json.dumps(doc).encode())],
        "arn:aws:iam::111122223333:role/operator",
    )
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "aws.instance_command"
    assert "grants are not in the files" in p.evidence[-1].says


def _account(*roles: dict) -> bytes:
    return json.dumps({"RoleDetailList": list(roles), "Policies": []}).encode()


def _role(name: str, statements: list, trust: list) -> dict:
    return {
        "RoleName": name,
        "Arn": f"arn:aws:iam::111122223333:role/{name}",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": trust},
        "RolePolicyList": [
            {
                "PolicyName": f"{name}-policy",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ],
        "AttachedManagedPolicies": [],
    }


def test_a_role_that_trusts_it_by_arn_needs_no_assume_role_permission():
    agent = _role("agent", [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}], [])
    admin = _role(
        "break-glass",
        [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
        [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/agent"},
            }
        ],
    )
    other = _role(
        "reports",
        [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}],
        [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/agent"},
            }
        ],
    )
    file = parse_bytes("a.json", _account(agent, admin, other))
    analysis = evidence.analyse("aws", [file], "arn:aws:iam::111122223333:role/agent")
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "aws.trusted_by_arn"
    assert "its trust policy names it by ARN" in p.evidence[0].says
    assert "break-glass holds: iam:PutRolePolicy" in says(p)
    # Two roles reached by trust alone: it chooses its credentials at run time.
    assert proposal(analysis, "decides_own_scopes").rule == "aws.assume_several_roles"
    # A trust naming the account root is not enough without a permission policy.
    admin["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"] = "111122223333"
    file = parse_bytes("a.json", _account(agent, admin))
    analysis = evidence.analyse("aws", [file], "arn:aws:iam::111122223333:role/agent")
    assert proposal(analysis, "alters_own_access").value is False


def test_an_iam_user_may_mint_itself_a_service_specific_credential():
    user = {
        "UserName": "ci",
        "Arn": "arn:aws:iam::111122223333:user/ci",
        "GroupList": [],
        "UserPolicyList": [
            {
                "PolicyName": "git",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "iam:CreateServiceSpecificCredential",
                            "Resource": "arn:aws:iam::111122223333:user/${aws:username}",
                        }
                    ],
                },
            }
        ],
        "AttachedManagedPolicies": [],
    }
    file = parse_bytes("u.json", json.dumps({"UserDetailList": [user]}).encode())
    analysis = evidence.analyse("aws", [file], "arn:aws:iam::111122223333:user/ci")
    assert proposal(analysis, "alters_own_access").rule == "aws.credential_creation"


# --------------------------------------------------------------- AWS: conditions


def _conditional(condition: dict) -> evidence.Analysis:
    # iam-vulnerable's privesc1 (CreatePolicyVersion on *) with a condition added.
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:CreatePolicyVersion",
                "Resource": "*",
                "Condition": condition,
            }
        ],
    }
    role = _role("old-tokens", doc["Statement"], [])
    role["AttachedManagedPolicies"] = [
        {"PolicyName": "tools", "PolicyArn": "arn:aws:iam::111122223333:policy/tools"}
    ]
    account = {
        "RoleDetailList": [role],
        "Policies": [
            {
                "PolicyName": "tools",
                "Arn": "arn:aws:iam::111122223333:policy/tools",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {
                        "VersionId": "v1",
                        "IsDefaultVersion": True,
                        "Document": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return evidence.analyse(
        "aws",
        [parse_bytes("c.json", json.dumps(account).encode())],
        "arn:aws:iam::111122223333:role/old-tokens",
    )


def test_an_allow_only_for_tokens_issued_before_2020_is_not_a_live_grant():
    analysis = _conditional({"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}})
    p = proposal(analysis, "alters_own_access")
    assert p.value is False
    assert "can no longer hold" in says(p) and "aws:TokenIssueTime is before 2020" in says(p)


def test_a_time_bound_in_the_future_still_counts():
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    analysis = _conditional({"DateLessThan": {"aws:CurrentTime": later}})
    assert proposal(analysis, "alters_own_access").value is True


def test_any_other_condition_applies_and_is_quoted():
    analysis = _conditional({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    p = proposal(analysis, "alters_own_access")
    assert p.value is True
    assert "only when aws:SourceIp is in 10.0.0.0/8" in says(p)


# --------------------------------------------------------------- AWS: CloudFormation


CFN_YAML = b"""AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, Default: prod}
Resources:
  PlannerRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !Sub "planner-${Env}"
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Ref PlannerPolicy
  PlannerPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: iam:PutRolePolicy
            Resource: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/planner-${Env}"
          - Effect: Allow
            Action: s3:GetObject
            Resource: !Join ["", ["arn:aws:s3:::reports-", !Ref Env, "/*"]]
"""


def test_cloudformation_yaml_with_short_tags_is_read_as_plain_values():
    file = parse_bytes("template.yaml", CFN_YAML)
    role = file.documents[0]["Resources"]["PlannerRole"]["Properties"]
    assert role["RoleName"] == {"Fn::Sub": "planner-${Env}"}
    assert role["ManagedPolicyArns"] == [{"Ref": "PlannerPolicy"}]
    analysis = evidence.analyse("aws", [file], "PlannerRole")
    p = proposal(analysis, "alters_own_access")
    assert (p.value, p.rule) == (True, "aws.self_policy_write")
    assert p.evidence[0].where == "Resources.PlannerPolicy.Properties.PolicyDocument.Statement[0]"
    # By the role's name in an ARN, too (the template's account stands in for its own).
    by_arn = evidence.analyse("aws", [file], "arn:aws:iam::111122223333:role/planner-prod")
    assert proposal(by_arn, "alters_own_access").value is True


def test_cloudformation_json_is_read_the_same():
    # The same template in JSON, with the long forms ({"Fn::Sub": …}, {"Ref": …}).
    as_json = json.dumps(parse_bytes("template.yaml", CFN_YAML).documents[0])
    assert '"Fn::Join"' in as_json and "!Join" not in as_json
    analysis = evidence.analyse("aws", [parse_bytes("t.json", as_json.encode())], "PlannerRole")
    assert proposal(analysis, "alters_own_access").rule == "aws.self_policy_write"
    systems = proposal(analysis, "systems")
    assert "arn:aws:s3:::reports-prod/*" in says(systems)


def test_a_template_principal_that_is_not_there_is_refused_by_name():
    with pytest.raises(PrincipalNotFound, match="logical name or address"):
        evidence.analyse("aws", [parse_bytes("t.yaml", CFN_YAML)], "NoSuchRole")


def test_unknown_yaml_tags_are_still_refused_with_libyaml_and_without(monkeypatch):
    for fast in (True, False):
        monkeypatch.setattr(yamlsafe, "HAS_LIBYAML", fast and yamlsafe.HAS_LIBYAML)
        with pytest.raises(EvidenceError, match=r"x.yaml.*tag \(!Evil\)"):
            parse_bytes("x.yaml", b"a: !Evil thing\n")
        with pytest.raises(EvidenceError, match="anchor"):
            parse_bytes("x.yaml", b"a: &one {b: 1}\n")
        with pytest.raises(EvidenceError, match="alias"):
            parse_bytes("x.yaml", b"a: [1]\nb: *one\n")
        with pytest.raises(EvidenceError, match="tag"):
            parse_bytes("x.yaml", b"a: !!python/object:os.system x\n")
        assert parse_bytes("t.yaml", CFN_YAML).documents[0]["Parameters"]["Env"]["Default"] == (
            "prod"
        )


def test_libyaml_is_installed_here():
    # PyPI's manylinux wheels of PyYAML include libyaml; a build without it reads YAML
    # ten times slower (the pure-Python fallback above still gives the same answers).
    assert yamlsafe.HAS_LIBYAML


def test_both_readers_give_the_same_documents(monkeypatch):
    text = (FIXTURES / "kubernetes" / "rbac.yaml").read_bytes()
    fast = parse_bytes("rbac.yaml", text).documents
    monkeypatch.setattr(yamlsafe, "HAS_LIBYAML", False)
    assert parse_bytes("rbac.yaml", text).documents == fast


# --------------------------------------------------------------- Kubernetes


def test_namespace_less_kustomize_base_is_read_in_the_principals_namespace():
    analysis = run(
        "kubernetes",
        "argocd-server-base.yaml",
        principal="system:serviceaccount:argocd:argocd-server",
    )
    systems = {s["name"] for s in proposal(analysis, "systems").value}
    assert "kubernetes secrets in argocd" in systems
    assert proposal(analysis, "alters_own_access").value is False


def test_namespace_option_names_where_the_base_is_applied():
    analysis = run(
        "kubernetes",
        "argocd-server-base.yaml",
        principal="system:serviceaccount:gitops:argocd-server",
        namespace="gitops",
    )
    assert proposal(analysis, "credential_model").value == "workload_identity"
    with pytest.raises(PrincipalNotFound, match="--namespace"):
        run(
            "kubernetes",
            "argocd-server-base.yaml",
            principal="system:serviceaccount:argocd:argocd-server",
            namespace="default",
        )


def test_argocd_server_may_patch_any_deployment_cluster_wide():
    analysis = run(
        "kubernetes",
        "argocd-server-base.yaml",
        "argocd-server-cluster-rbac.yaml",
        "k8s-bootstrap-subset.yaml",
        principal="system:serviceaccount:argocd:argocd-server",
    )
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "k8s.workload_as_other_account"
    assert "may patch deployments" in p.evidence[0].says
    assert "kube-system/clusterrole-aggregation-controller" in p.evidence[1].says
    assert "escalate on clusterroles" in p.evidence[2].says


def test_garbage_collector_acts_as_a_more_privileged_controller():
    analysis = run(
        "kubernetes",
        "k8s-bootstrap-subset.yaml",
        principal="system:serviceaccount:kube-system:generic-garbage-collector",
    )
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "k8s.workload_as_other_account"
    assert steps(p) == ["Step 1", "Step 2", "Step 3"]


BIND_EDIT = b"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-edit, namespace: ci}
subjects: [{kind: ServiceAccount, name: deployer, namespace: ci}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
"""


def test_the_aggregated_edit_role_is_resolved_from_its_labels():
    files = [
        evidence.load_path(PUBLIC / "k8s-bootstrap-subset.yaml"),
        parse_bytes("binding.yaml", BIND_EDIT),
    ]
    analysis = evidence.analyse("kubernetes", files, "system:serviceaccount:ci:deployer")
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "k8s.escalate_bind_impersonate"
    assert "impersonate on serviceaccounts" in says(p)
    assert "system:aggregate-to-edit, aggregated into edit" in says(p)
    systems = {s["name"]: s["access"] for s in proposal(analysis, "systems").value}
    assert systems["kubernetes deployments in ci"] == "write"


TOKEN_SELF = b"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: own-token, namespace: agents}
rules:
- apiGroups: [""]
  resources: [serviceaccounts/token]
  resourceNames: [%s]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: own-token, namespace: agents}
subjects: [{kind: ServiceAccount, name: fetcher, namespace: agents}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: own-token}
"""


def test_a_token_for_itself_only_widens_nothing():
    file = parse_bytes("token.yaml", TOKEN_SELF % b"fetcher")
    analysis = evidence.analyse("kubernetes", [file], "system:serviceaccount:agents:fetcher")
    assert proposal(analysis, "alters_own_access").value is False
    other = parse_bytes("token.yaml", TOKEN_SELF % b"builder")
    analysis = evidence.analyse("kubernetes", [other], "system:serviceaccount:agents:fetcher")
    p = proposal(analysis, "alters_own_access")
    assert p.rule == "k8s.serviceaccount_token" and "named builder" in says(p)


# --------------------------------------------------------------- GCP


def test_gcp_run_admin_with_service_account_user_deploys_as_a_stronger_account():
    policy = {
        "bindings": [
            {
                "role": "roles/run.admin",
                "members": ["serviceAccount:deployer@p.iam.gserviceaccount.com"],
            },
            {
                "role": "roles/iam.serviceAccountUser",
                "members": ["serviceAccount:deployer@p.iam.gserviceaccount.com"],
            },
            {
                "role": "roles/editor",
                "members": ["serviceAccount:123-compute@developer.gserviceaccount.com"],
            },
        ]
    }
    file = parse_bytes("policy.json", json.dumps(policy).encode())
    analysis = evidence.analyse("gcp", [file], "serviceAccount:deployer@p.iam.gserviceaccount.com")
    p = proposal(analysis, "alters_own_access")
    assert (p.value, p.rule) == (True, "gcp.act_as_deploy")
    assert steps(p) == ["Step 1", "Step 2", "Step 3"]
    assert "123-compute@developer.gserviceaccount.com" in p.evidence[2].says
    # run.admin alone (no actAs) is not a path.
    policy["bindings"].pop(1)
    file = parse_bytes("policy.json", json.dumps(policy).encode())
    analysis = evidence.analyse("gcp", [file], "serviceAccount:deployer@p.iam.gserviceaccount.com")
    assert proposal(analysis, "alters_own_access").value is False


# --------------------------------------------------------------- MCP


def test_mcp_forms_placeholders_and_mcp_remote():
    analysis = run("mcp", "mcp-servers-readme.json")
    reach = proposal(analysis, "network_reach")
    assert reach.value == "internet"
    assert "through npx mcp-remote, a local proxy" in says(reach)
    cred = proposal(analysis, "credential_model")
    assert (cred.value, cred.rule) == ("static_secret", "mcp.secret_placeholder")
    assert "<YOUR_TOKEN>" in says(cred) and "literal secret" not in says(cred)


@pytest.mark.parametrize(
    "config",
    [
        {
            "servers": {
                "gh": {
                    "type": "http",
                    "url": "https://api.githubcopilot.com/mcp/",
                    "headers": {"Authorization": "Bearer YOUR_GITHUB_PAT"},
                }
            }
        },
        {
            "gh": {
                "url": "https://api.githubcopilot.com/mcp/",
                "headers": {"Authorization": "Bearer ${GITHUB_TOKEN}"},
            }
        },
        {
            "mcp": {
                "servers": {
                    "gh": {
                        "url": "https://api.githubcopilot.com/mcp/",
                        "headers": {"X-API-Key": "[REDACTED_API_KEY]"},
                    }
                }
            }
        },
    ],
)
def test_mcp_placeholder_in_every_form_is_a_static_secret_not_a_leak(config):
    file = parse_bytes("mcp.json", json.dumps(config).encode())
    analysis = evidence.analyse("mcp", [file])
    p = proposal(analysis, "credential_model")
    assert (p.value, p.rule) == ("static_secret", "mcp.secret_placeholder")
    assert proposal(analysis, "network_reach").value == "internet"


def test_mcp_remote_server_with_oauth_and_no_header_is_user_delegated():
    config = {
        "mcpServers": {"notion": {"url": "https://mcp.notion.com/mcp", "oauth": {"enabled": True}}}
    }
    analysis = evidence.analyse("mcp", [parse_bytes("m.json", json.dumps(config).encode())])
    assert proposal(analysis, "credential_model").value == "user_delegated"
    metadata = {
        "resource": "https://mcp.linear.app/mcp",
        "authorization_servers": ["https://mcp.linear.app"],
    }
    config = {"mcpServers": {"linear": {"url": "https://mcp.linear.app/mcp"}}}
    analysis = evidence.analyse(
        "mcp",
        [
            parse_bytes("m.json", json.dumps(config).encode()),
            parse_bytes("prm.json", json.dumps(metadata).encode()),
        ],
    )
    p = proposal(analysis, "credential_model")
    assert (p.value, p.rule) == ("user_delegated", "mcp.oauth")
    assert "protected-resource metadata" in says(p)


# --------------------------------------------------------------- analyse_evidence, assess


def _command(*args: str) -> dict:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("analyse_evidence", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_analyse_evidence_reads_a_terraform_plan_by_resource_address():
    result = _command(
        str(PUBLIC / LAB),
        "--kind",
        "aws",
        "--principal",
        "aws_iam_role.privesc17-EditExistingLambdaFunctionWithRole-role",
    )
    alters = next(p for p in result["proposals"] if p["key"] == "alters_own_access")
    assert alters["rule"] == "aws.compute_takeover"
    assert alters["evidence"][0]["says"].startswith("Step 1: ")


def test_analyse_evidence_takes_a_namespace_and_refuses_a_missing_principal():
    from django.core.management.base import CommandError

    result = _command(
        str(PUBLIC / "argocd-server-base.yaml"),
        "--kind",
        "kubernetes",
        "--principal",
        "system:serviceaccount:gitops:argocd-server",
        "--namespace",
        "gitops",
    )
    assert result["principal"] == "system:serviceaccount:gitops:argocd-server"
    with pytest.raises(CommandError, match="--namespace") as caught:
        _command(
            str(PUBLIC / "argocd-server-base.yaml"),
            "--kind",
            "kubernetes",
            "--principal",
            "system:serviceaccount:gitops:argocd-server",
            "--namespace",
            "default",
        )
    assert caught.value.returncode == 2


@pytest.mark.django_db
def test_assess_takes_answers_from_a_cloudformation_template(tmp_path):
    from io import StringIO

    from django.core.management import call_command

    manifest = tmp_path / "planner.yaml"
    manifest.write_text(
        "agent: {name: Planner, slug: planner}\nanswers:\n  decision_mode: context_driven\n"
    )
    template = tmp_path / "template.yaml"
    template.write_bytes(CFN_YAML)
    out = StringIO()
    call_command(
        "assess",
        str(manifest),
        "--evidence",
        str(template),
        "--kind",
        "aws",
        "--principal",
        "PlannerRole",
        stdout=out,
    )
    used = json.loads(out.getvalue())["answers_from_evidence"]
    assert used["alters_own_access"]["rule"] == "aws.self_policy_write"


def test_a_credential_report_shows_which_users_hold_an_active_key():
    import base64

    report = (
        "user,arn,user_creation_time,password_enabled,access_key_1_active,"
        "access_key_1_last_rotated,access_key_2_active,access_key_2_last_rotated\n"
        "ci,arn:aws:iam::111122223333:user/ci,2024-01-01T00:00:00+00:00,false,true,"
        "2024-02-01T00:00:00+00:00,false,N/A\n"
    )
    doc = {
        "Content": base64.b64encode(report.encode()).decode(),
        "ReportFormat": "text/csv",
        "GeneratedTime": "2026-01-01T00:00:00Z",
    }
    user = {
        "UserName": "ci",
        "Arn": "arn:aws:iam::111122223333:user/ci",
        "GroupList": [],
        "UserPolicyList": [],
        "AttachedManagedPolicies": [],
    }
    files = [
        parse_bytes("u.json", json.dumps({"UserDetailList": [user]}).encode()),
        parse_bytes("report.json", json.dumps(doc).encode()),
    ]
    p = proposal(
        evidence.analyse("aws", files, "arn:aws:iam::111122223333:user/ci"), "credential_model"
    )
    assert (p.value, p.rule) == ("static_secret", "aws.iam_user_keys")
    assert "credential report: user ci has active access key 1" in says(p)
