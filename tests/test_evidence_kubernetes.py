"""Kubernetes evidence: RBAC as the API server evaluates it, a positive and a negative case per rule."""

from __future__ import annotations

import pytest

from assessments.evidence import PrincipalNotFound
from tests.evidence_helpers import RBAC, proposal, run, says


def sa(name: str) -> str:
    return f"system:serviceaccount:{name}"


def analysed(name: str, fixture: str = RBAC):
    return run("kubernetes", fixture, principal=sa(name))


def test_read_only_role_proposes_no_self_modification_and_fixed_scopes():
    analysis = analysed("agents:reader")
    assert proposal(analysis, "alters_own_access").value is False
    assert proposal(analysis, "alters_own_access").rule == "k8s.no_self_modification"
    assert proposal(analysis, "decides_own_scopes").value is False


def test_bind_verb_on_roles_is_self_modification():
    p = proposal(analysed("agents:binder"), "alters_own_access")
    assert p.value is True and p.rule == "k8s.escalate_bind_impersonate"
    assert "bind on roles" in says(p)


def test_escalate_verb_is_self_modification():
    p = proposal(analysed("agents:worker"), "alters_own_access")
    assert p.value is True and p.rule == "k8s.escalate_bind_impersonate"
    assert "escalate on roles" in says(p)


def test_impersonate_verb_is_self_modification():
    p = proposal(analysed("ops:impersonator"), "alters_own_access")
    assert p.value is True and "impersonate on users" in says(p)


def test_create_on_serviceaccounts_token_alters_access_and_decides_scopes():
    analysis = analysed("agents:token-minter")
    for key in ("alters_own_access", "decides_own_scopes"):
        p = proposal(analysis, key)
        assert p.value is True and p.rule == "k8s.serviceaccount_token"


def test_cluster_role_bound_by_a_role_binding_grants_nothing_cluster_scoped():
    # cluster-rbac-manager: * on clusterroles, clusterrolebindings, nodes, namespaces.
    analysis = analysed("agents:ns-operator")
    p = proposal(analysis, "alters_own_access")
    # Not through RBAC (cluster-scoped, out of a RoleBinding's reach); v2: its patch on
    # deployments in agents lets a pod run as agents/binder, which may bind roles.
    assert p.rule == "k8s.workload_as_other_account"
    assert [e.says[:7] for e in p.evidence] == ["Step 1:", "Step 2:", "Step 3:"]
    assert "agents/binder" in p.evidence[1].says and "bind on roles" in p.evidence[2].says
    systems = proposal(analysis, "systems").value
    assert systems == [{"name": "kubernetes deployments in agents", "access": "write"}]


def test_the_same_cluster_role_bound_cluster_wide_is_self_modification():
    analysis = analysed("ops:cluster-operator")
    p = proposal(analysis, "alters_own_access")
    assert p.value is True and p.rule == "k8s.rbac_wildcard"
    names = {s["name"]: s["access"] for s in proposal(analysis, "systems").value}
    assert names["kubernetes nodes"] == "admin" and names["kubernetes clusterroles"] == "admin"


def test_wildcard_verbs_and_resources_on_rbac_count_in_a_list_document():
    analysis = analysed("platform:platform-bot", "kubernetes/rbac-admin-list.json")
    assert proposal(analysis, "alters_own_access").rule == "k8s.rbac_wildcard"
    assert "items[1], rules[0]" in proposal(analysis, "alters_own_access").evidence[0].where


def test_no_false_when_a_bound_role_is_not_in_the_files():
    analysis = analysed("agents:legacy-bot")
    assert proposal(analysis, "alters_own_access") is None
    assert proposal(analysis, "decides_own_scopes") is None


def test_long_lived_token_secret_is_a_static_secret():
    p = proposal(analysed("agents:legacy-bot"), "credential_model")
    assert p.value == "static_secret" and p.rule == "k8s.long_lived_token"


def test_service_account_without_token_secret_is_workload_identity():
    p = proposal(analysed("agents:reader"), "credential_model")
    assert p.value == "workload_identity"


def test_service_account_used_by_several_workloads_is_shared():
    p = proposal(analysed("agents:worker"), "shared_platform_role")
    assert p.value is True and p.rule == "k8s.shared_service_account"
    assert "summariser" in says(p) and "classifier" in says(p)
    assert "ServiceAccount batch" in says(p)  # the binding's other subject


def test_service_account_used_by_one_workload_is_not_proposed_shared():
    assert proposal(analysed("agents:reader"), "shared_platform_role") is None


def test_systems_read_write_admin_from_verbs():
    systems = {s["name"]: s["access"] for s in proposal(analysed("agents:reader"), "systems").value}
    assert systems == {
        "kubernetes configmaps in agents": "read",
        "kubernetes pods in agents": "read",
        "kubernetes pods/log in agents": "read",
    }
    binder = {s["name"]: s["access"] for s in proposal(analysed("agents:binder"), "systems").value}
    assert binder["kubernetes roles in agents"] == "admin"


def test_a_service_account_not_in_the_files_is_refused_by_name():
    with pytest.raises(PrincipalNotFound, match="system:serviceaccount:agents:ghost"):
        analysed("agents:ghost")


def test_a_principal_that_is_not_a_service_account_is_refused():
    with pytest.raises(PrincipalNotFound, match="system:serviceaccount:NAMESPACE:NAME"):
        run("kubernetes", RBAC, principal="reader")


def test_a_group_binding_applies_but_does_not_make_an_unknown_account_present():
    from assessments.evidence import parse_bytes
    from assessments.evidence.kubernetes import analyse as analyse_k8s

    manifest = b"""
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: discover}
rules: [{apiGroups: [""], resources: [namespaces], verbs: [list]}]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: everyone-discovers}
subjects: [{kind: Group, name: "system:serviceaccounts"}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: discover}
---
kind: ServiceAccount
apiVersion: v1
metadata: {name: known, namespace: agents}
"""
    files = [parse_bytes("rbac.yaml", manifest)]
    with pytest.raises(PrincipalNotFound, match="agents:ghost"):
        analyse_k8s(files, sa("agents:ghost"))
    proposals = {p.key: p for p in analyse_k8s(files, sa("agents:known"))}
    assert proposals["systems"].value == [{"name": "kubernetes namespaces", "access": "read"}]
    assert proposals["shared_platform_role"].value is True  # granted through a group
