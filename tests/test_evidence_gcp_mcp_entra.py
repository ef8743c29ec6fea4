"""GCP, MCP and Entra evidence: a positive and a negative case per rule."""

from __future__ import annotations

import pytest

from assessments.evidence import EvidenceError, PrincipalNotFound
from assessments.evidence.mcp import is_internal
from tests.evidence_helpers import proposal, run, says

POLICY = "gcp/project-iam-policy.json"
ROLES = "gcp/custom-roles.json"


def gcp(name: str, *extra: str):
    return run(
        "gcp",
        POLICY,
        ROLES,
        *extra,
        principal=f"serviceAccount:{name}@acme-prod.iam.gserviceaccount.com",
    )


# --------------------------------------------------------------- GCP


def test_gcp_set_iam_policy_in_a_custom_role_is_self_modification():
    p = proposal(gcp("policy-tuner"), "alters_own_access")
    assert p.value is True and p.rule == "gcp.custom_role_permission"
    assert "resourcemanager.projects.setIamPolicy" in says(p)


def test_gcp_read_only_custom_and_viewer_roles_are_not():
    analysis = gcp("report-reader")
    assert proposal(analysis, "alters_own_access").value is False
    assert proposal(analysis, "decides_own_scopes").value is False
    systems = {s["name"]: s["access"] for s in proposal(analysis, "systems").value}
    assert systems == {"project (all services)": "read", "storage": "read"}


def test_gcp_token_creator_role_alters_access_and_decides_scopes():
    analysis = gcp("token-broker")
    p = proposal(analysis, "alters_own_access")
    assert p.value is True and p.rule == "gcp.dangerous_role"
    assert proposal(analysis, "decides_own_scopes").rule == "gcp.token_creator"


def test_gcp_owner_is_a_dangerous_predefined_role():
    p = proposal(gcp("legacy-deployer"), "alters_own_access")
    assert p.value is True and "roles/owner" in says(p)


def test_gcp_object_admin_is_write_not_self_modification():
    analysis = gcp("batch-export")
    assert proposal(analysis, "alters_own_access").value is False
    assert proposal(analysis, "systems").value == [{"name": "storage", "access": "admin"}]


def test_gcp_unknown_custom_role_leaves_the_grant_incomplete():
    analysis = gcp("half-known")
    assert proposal(analysis, "alters_own_access") is None
    assert proposal(analysis, "decides_own_scopes") is None


def test_gcp_custom_role_file_missing_means_no_false_either():
    analysis = run(
        "gcp", POLICY, principal="serviceAccount:report-reader@acme-prod.iam.gserviceaccount.com"
    )
    assert proposal(analysis, "alters_own_access") is None


def test_gcp_user_managed_key_is_a_static_secret():
    p = proposal(gcp("uploader", "gcp/uploader-keys.json"), "credential_model")
    assert p.value == "static_secret" and p.rule == "gcp.service_account_key"
    assert len(p.evidence) == 1  # the system-managed key does not count


def test_gcp_service_account_without_keys_is_workload_identity():
    p = proposal(gcp("batch-export", "gcp/uploader-keys.json"), "credential_model")
    assert p.value == "workload_identity"


def test_gcp_binding_shared_with_another_service_account_is_shared():
    p = proposal(gcp("uploader"), "shared_platform_role")
    assert p.value is True and "batch-export@" in says(p)
    assert proposal(gcp("policy-tuner"), "shared_platform_role") is None


def test_gcp_principal_not_in_any_binding_is_refused():
    with pytest.raises(PrincipalNotFound, match="ghost@acme-prod"):
        gcp("ghost")


# --------------------------------------------------------------- MCP


def test_mcp_remote_server_outside_reaches_the_internet_and_calls_external_apis():
    analysis = run("mcp", "mcp/desktop-config.json")
    reach = proposal(analysis, "network_reach")
    assert reach.value == "internet" and reach.rule == "mcp.remote_server"
    assert "api.githubcopilot.com" in says(reach)
    assert proposal(analysis, "calls_external_apis").value is True


def test_mcp_internal_servers_are_not_internet_reach():
    analysis = run("mcp", "mcp/internal-config.json", internal_domains=["corp.acme.example"])
    assert proposal(analysis, "network_reach") is None
    assert proposal(analysis, "calls_external_apis") is None


def test_mcp_internal_domain_comes_from_the_caller():
    analysis = run("mcp", "mcp/internal-config.json")
    assert "mcp.corp.acme.example" in says(proposal(analysis, "network_reach"))


def test_mcp_several_servers_choose_from_an_allowlist():
    p = proposal(run("mcp", "mcp/desktop-config.json"), "tool_selection")
    assert p.value == "chooses_from_allowlist" and len(p.evidence) == 3
    assert proposal(run("mcp", "mcp/single-local.yaml"), "tool_selection") is None


def test_mcp_inline_secrets_are_static_secrets_and_never_printed():
    p = proposal(run("mcp", "mcp/desktop-config.json"), "credential_model")
    assert p.value == "static_secret" and p.rule == "mcp.inline_secret"
    text = says(p)
    assert "headers Authorization" in text and "env PGPASSWORD" in text
    assert "ghp_" not in text and "s3cr3t" not in text


def test_mcp_password_inside_a_connection_url_is_an_inline_secret():
    from assessments.evidence import parse_bytes
    from assessments.evidence.mcp import analyse as analyse_mcp

    config = b'{"mcpServers": {"db": {"command": "uvx", "env": {"DB": "postgres://app:pw-9f2@db:5432/x"}}}}'
    (p,) = analyse_mcp([parse_bytes("db.json", config)])
    assert (p.key, p.value) == ("credential_model", "static_secret")
    assert "pw-9f2" not in says(p)
    plain = b'{"mcpServers": {"db": {"command": "uvx", "env": {"DB": "postgres://app@db:5432/x"}}}}'
    assert analyse_mcp([parse_bytes("db.json", plain)]) == ()


def test_mcp_references_to_secrets_elsewhere_are_placeholders_not_inline_secrets():
    # v2: "Bearer ${input:tickets-token}" and "${SEARCH_API_KEY}" are where a long-lived
    # secret is put: a static secret by placeholder, never reported as a leaked one.
    analysis = run("mcp", "mcp/internal-config.json", internal_domains=["corp.acme.example"])
    p = proposal(analysis, "credential_model")
    assert (p.value, p.rule) == ("static_secret", "mcp.secret_placeholder")
    assert all("placeholder" in e.says for e in p.evidence)
    assert "literal secret" not in says(p)


def test_mcp_single_local_server_proposes_nothing():
    assert run("mcp", "mcp/single-local.yaml").proposals == ()


@pytest.mark.parametrize(
    ("host", "inside"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("169.254.169.254", True),
        ("[::1]", True),
        ("printer.local", True),
        ("search.internal", True),
        ("mcp.corp.acme.example", True),
        ("corp.acme.example", True),
        ("evilcorp.acme.example.attacker.com", False),
        ("notcorp.acme.example", False),
        ("8.8.8.8", False),
        ("api.githubcopilot.com", False),
    ],
)
def test_mcp_internal_host_rules(host, inside):
    assert is_internal(host, ["corp.acme.example"]) is inside


def test_mcp_file_without_servers_is_refused_naming_the_file():
    with pytest.raises(EvidenceError, match="gcp/custom-roles.json"):
        run("mcp", "gcp/custom-roles.json")


# --------------------------------------------------------------- Entra


def test_entra_application_readwrite_ownedby_is_self_modification():
    analysis = run("entra", "entra/app-permissions.json", principal="release-bot")
    p = proposal(analysis, "alters_own_access")
    assert p.value is True and p.rule == "entra.self_grant_permission"
    assert "Application.ReadWrite.OwnedBy" in says(p) and "Mail.Send" not in says(p)


def test_entra_mail_permissions_are_not():
    analysis = run(
        "entra", "entra/app-permissions.json", principal="8b1d4e7f-2c3a-4b5d-8e9f-0a1b2c3d4e5f"
    )
    p = proposal(analysis, "alters_own_access")
    assert p.value is False and p.rule == "entra.no_self_grant"
    systems = {s["name"]: s["access"] for s in proposal(analysis, "systems").value}
    assert systems == {"Microsoft Graph Mail": "read", "Microsoft Graph User": "read"}


def test_entra_bare_list_of_permission_values():
    analysis = run("entra", "entra/permission-values.json")
    assert proposal(analysis, "alters_own_access").value is True
    systems = {s["name"]: s["access"] for s in proposal(analysis, "systems").value}
    assert systems["Microsoft Graph AppRoleAssignment"] == "admin"
    assert systems["Microsoft Graph Files"] == "write"


def test_entra_unknown_app_is_refused_by_name():
    with pytest.raises(PrincipalNotFound, match="no-such-app"):
        run("entra", "entra/app-permissions.json", principal="no-such-app")
