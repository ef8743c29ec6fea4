"""Kubernetes: what a service account may do, from RBAC manifests.

A ``RoleBinding`` grants its role's rules in the binding's namespace only, so a
``ClusterRole`` bound that way grants nothing on cluster-scoped resources (nodes,
namespaces, cluster roles and bindings, ...). ``*`` verbs and resources count.

Objects without a namespace (kustomize bases, ``namespace-install.yaml``) are read in
``--namespace`` (default ``default``, or the principal's own namespace when nothing in
``default`` names it). An ``aggregationRule`` ClusterRole has the rules of the
ClusterRoles in the files whose labels its selectors match. Paths through other
identities (v2): creating or changing pods or workload controllers where a pod may run
as a more privileged service account, and ``nodes/proxy``; ``create`` on
``serviceaccounts/token`` limited by ``resourceNames`` to itself widens nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .common import Evidence, EvidenceError, EvidenceFile, PrincipalNotFound, Proposals, as_list

PRINCIPAL = re.compile(r"system:serviceaccount:(?P<namespace>[^:]+):(?P<name>[^:]+)")
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount")
# Resources that exist outside any namespace: a namespaced grant never reaches them.
CLUSTER_SCOPED = frozenset(
    {
        "nodes",
        "namespaces",
        "persistentvolumes",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "storageclasses",
        "priorityclasses",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "certificatesigningrequests",
        "apiservices",
        "csidrivers",
        "csinodes",
        "runtimeclasses",
        "volumeattachments",
        "ingressclasses",
        "componentstatuses",
        "tokenreviews",
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "selfsubjectrulesreviews",
    }
)
RBAC_RESOURCES = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
ROLE_RESOURCES = ("roles", "clusterroles")
IMPERSONATE_RESOURCES = ("users", "groups", "serviceaccounts", "uids", "userextras/*")
READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
WORKLOAD_KINDS = frozenset(
    {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
)
# What a pod runs from: creating or patching any of these chooses its service account.
WORKLOAD_RESOURCES = (
    "deployments",
    "pods",
    "daemonsets",
    "statefulsets",
    "replicasets",
    "jobs",
    "cronjobs",
    "replicationcontrollers",
)
# Kinds that live in a namespace: without metadata.namespace they are read in --namespace.
NAMESPACED_KINDS = frozenset({"Role", "RoleBinding", "ServiceAccount", "Secret", *WORKLOAD_KINDS})


@dataclass(frozen=True, slots=True)
class Rule:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    namespace: str | None  # None: cluster-wide (ClusterRoleBinding)
    file: str
    where: str
    via: str  # "ClusterRole admin bound by RoleBinding ci/deployers"
    resource_names: tuple[str, ...] = ()

    def allows(self, verb: str, resource: str, group: str | None = None) -> bool:
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if group is not None and "*" not in self.api_groups and group not in self.api_groups:
            return False
        if self.namespace is not None and resource.split("/")[0] in CLUSTER_SCOPED:
            return False
        return any(_resource_matches(r, resource) for r in self.resources)

    def evidence(self, says: str) -> Evidence:
        scope = f"in namespace {self.namespace}" if self.namespace else "cluster-wide"
        named = f" named {', '.join(self.resource_names)}" if self.resource_names else ""
        return Evidence(
            self.file,
            self.where,
            f"{says}: verbs {', '.join(self.verbs)} on {', '.join(self.resources)}{named} "
            f"{scope}, from {self.via}",
        )


def _resource_matches(pattern: str, resource: str) -> bool:
    if pattern in ("*", resource):
        return True
    if pattern.endswith("/*"):  # "pods/*": every subresource of pods
        return resource.startswith(pattern[:-1])
    if pattern.startswith("*/"):  # "*/scale": that subresource of anything
        return resource.endswith(pattern[1:])
    return False


def _objects(files: Sequence[EvidenceFile]) -> list[tuple[dict[str, Any], str, str]]:
    found: list[tuple[dict[str, Any], str, str]] = []
    for file in files:
        for position, document in enumerate(file.documents):
            prefix = f"document {position + 1}" if len(file.documents) > 1 else "document"
            if not isinstance(document, dict):
                raise EvidenceError(file.name, f"{prefix} is not a Kubernetes object")
            if document.get("kind") == "List" or ("items" in document and "kind" not in document):
                for index, item in enumerate(as_list(document.get("items"))):
                    if isinstance(item, dict):
                        found.append((item, file.name, f"{prefix}, items[{index}]"))
            elif "kind" in document:
                found.append((document, file.name, prefix))
            else:
                raise EvidenceError(
                    file.name,
                    f"{prefix} has no kind; expected RBAC objects ({', '.join(RBAC_KINDS)})",
                )
    return found


def _label(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "?")
    return f"{obj.get('kind')} {namespace}/{name}" if namespace else f"{obj.get('kind')} {name}"


class _Cluster:
    """The RBAC objects of the files, indexed; namespace-less objects read as ``default_ns``."""

    def __init__(self, files: Sequence[EvidenceFile], default_ns: str):
        self.default_ns = default_ns
        self.objects = _objects(files)
        self.roles: dict[tuple[str, str | None, str], tuple[dict[str, Any], str, str]] = {}
        self.cluster_roles: list[tuple[dict[str, Any], str, str]] = []
        self.bindings: list[tuple[dict[str, Any], str, str, str | None]] = []
        self.accounts: dict[tuple[str, str], tuple[dict[str, Any], str, str]] = {}
        self.namespace_less = False
        for obj, file, where in self.objects:
            kind = obj.get("kind")
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            ns = meta.get("namespace")
            if kind in NAMESPACED_KINDS and not ns:
                self.namespace_less = True
                ns = default_ns
            if kind == "Role":
                self.roles[("Role", ns, str(meta.get("name")))] = (obj, file, where)
            elif kind == "ClusterRole":
                self.roles[("ClusterRole", None, str(meta.get("name")))] = (obj, file, where)
                self.cluster_roles.append((obj, file, where))
            elif kind == "RoleBinding":
                self.bindings.append((obj, file, where, ns))
            elif kind == "ClusterRoleBinding":
                self.bindings.append((obj, file, where, None))
            elif kind == "ServiceAccount":
                self.accounts[(str(ns), str(meta.get("name")))] = (obj, file, where)
        # Bindings by the subjects they name, so that one account's grants (asked for
        # every candidate of a path) never walk every binding of a large manifest.
        self._by_account: dict[tuple[str, str], list[int]] = {}
        self._by_other: list[int] = []  # groups, users and anything else
        for index, (obj, _file, _where, binding_ns) in enumerate(self.bindings):
            for subject in as_list(obj.get("subjects")):
                if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                    key = (
                        str(subject.get("namespace") or binding_ns or default_ns),
                        str(subject.get("name")),
                    )
                    self._by_account.setdefault(key, []).append(index)
                elif isinstance(subject, dict):
                    self._by_other.append(index)

    def namespace_of(self, obj: dict[str, Any]) -> str:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        return str(meta.get("namespace") or self.default_ns)

    def role_rules(
        self, key: tuple[str, str | None, str], seen: frozenset[str] = frozenset()
    ) -> tuple[list[tuple[dict[str, Any], str, str, str]], bool] | None:
        """The rules of a role (with an aggregated ClusterRole's from the ClusterRoles
        its selectors match, recursively): (rule, file, where, from), complete."""
        found = self.roles.get(key)
        if found is None:
            return None
        role, file, where = found
        rules = [
            (rule, file, f"{where}, rules[{i}]", key[2])
            for i, rule in enumerate(as_list(role.get("rules")))
            if isinstance(rule, dict)
        ]
        complete = True
        aggregation = role.get("aggregationRule")
        if isinstance(aggregation, dict) and key[0] == "ClusterRole":
            for selector in as_list(aggregation.get("clusterRoleSelectors")):
                if not isinstance(selector, dict):
                    continue
                if selector.get("matchExpressions"):
                    complete = False
                labels = selector.get("matchLabels") or {}
                if not isinstance(labels, dict) or not labels:
                    continue
                for other, _f, _w in self.cluster_roles:
                    meta = other.get("metadata") or {}
                    name = str(meta.get("name"))
                    have = meta.get("labels") or {}
                    if name == key[2] or name in seen or not isinstance(have, dict):
                        continue
                    if all(str(have.get(k)) == str(v) for k, v in labels.items()):
                        inner = self.role_rules(("ClusterRole", None, name), seen | {key[2]})
                        if inner is not None:
                            rules.extend(
                                (r, f, w, f"{name}, aggregated into {key[2]}")
                                for r, f, w, _src in inner[0]
                            )
                            complete = complete and inner[1]
        return rules, complete

    def grants(self, namespace: str, name: str) -> Grants:
        """What ``system:serviceaccount:namespace:name`` is granted by the files."""
        principal = f"system:serviceaccount:{namespace}:{name}"
        out = Grants(present=(namespace, name) in self.accounts)

        def is_me(subject: Any, binding_ns: str | None) -> bool:
            if not isinstance(subject, dict):
                return False
            kind = subject.get("kind")
            if kind == "ServiceAccount":
                return (
                    subject.get("name") == name
                    and (subject.get("namespace") or binding_ns or self.default_ns) == namespace
                )
            if kind == "Group":
                return subject.get("name") in (
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{namespace}",
                    "system:authenticated",
                )
            if kind == "User":
                return subject.get("name") == principal
            return False

        relevant = sorted(set(self._by_account.get((namespace, name), [])) | set(self._by_other))
        for index in relevant:
            obj, file, where, binding_ns = self.bindings[index]
            subjects = as_list(obj.get("subjects"))
            if not any(is_me(s, binding_ns) for s in subjects):
                continue
            out.present = out.present or any(
                isinstance(s, dict) and s.get("kind") != "Group" and is_me(s, binding_ns)
                for s in subjects
            )
            others = [s for s in subjects if isinstance(s, dict) and not is_me(s, binding_ns)]
            group = [s for s in subjects if isinstance(s, dict) and s.get("kind") == "Group"]
            if others or group:
                out.shared.append(
                    Evidence(
                        file,
                        where,
                        f"{_label(obj)} also grants its role to "
                        + ", ".join(f"{s.get('kind')} {s.get('name')}" for s in (others or group)),
                    )
                )
            ref = obj.get("roleRef") or {}
            ref_kind, ref_name = ref.get("kind"), str(ref.get("name"))
            key = (str(ref_kind), binding_ns if ref_kind == "Role" else None, ref_name)
            resolved = self.role_rules(key)
            if resolved is None:
                out.complete = False
                out.missing.append(f"{ref_kind} {ref_name}")
                continue
            rules, complete = resolved
            out.complete = out.complete and complete
            via = f"{ref_kind} {ref_name} bound by {_label(obj)}"
            role_file, role_where = self.roles[key][1], self.roles[key][2]
            out.read.append(Evidence(role_file, role_where, f"read {via}"))
            for rule, rule_file, rule_where, source in rules:
                if "nonResourceURLs" in rule and not rule.get("resources"):
                    continue
                rule_via = via if source == ref_name else f"{source}, {via}"
                out.rules.append(
                    Rule(
                        api_groups=tuple(str(g) for g in as_list(rule.get("apiGroups"))),
                        resources=tuple(str(r) for r in as_list(rule.get("resources"))),
                        verbs=tuple(str(v) for v in as_list(rule.get("verbs"))),
                        namespace=binding_ns,
                        file=rule_file,
                        where=rule_where,
                        via=rule_via,
                        resource_names=tuple(str(n) for n in as_list(rule.get("resourceNames"))),
                    )
                )
        return out


@dataclass(slots=True)
class Grants:
    present: bool = False
    rules: list[Rule] = field(default_factory=list)
    complete: bool = True
    read: list[Evidence] = field(default_factory=list)
    shared: list[Evidence] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _alters(grants: Grants, namespace: str, name: str) -> tuple[str, list[Evidence]] | None:
    """The first direct rule by which the account can widen its own access."""
    rules = grants.rules
    rbac = [
        r
        for r in rules
        if any(r.allows("*", res, "rbac.authorization.k8s.io") for res in RBAC_RESOURCES)
    ]
    if rbac:
        return "k8s.rbac_wildcard", [r.evidence("every verb on RBAC objects") for r in rbac]
    escalation = [
        r.evidence(f"{verb} on {res}")
        for r in rules
        for verb, resources in (
            ("escalate", ROLE_RESOURCES),
            ("bind", ROLE_RESOURCES),
            ("impersonate", IMPERSONATE_RESOURCES),
        )
        for res in resources
        if r.allows(verb, res)
    ]
    if escalation:
        return "k8s.escalate_bind_impersonate", escalation
    tokens = _token_rules(rules, namespace, name)
    if tokens:
        return "k8s.serviceaccount_token", tokens
    return None


def _token_rules(rules: list[Rule], namespace: str, name: str) -> list[Evidence]:
    """``create`` on another account's ``serviceaccounts/token``: limited by
    ``resourceNames`` to its own account (in its namespace) it widens nothing."""
    found = []
    for r in rules:
        if not r.allows("create", "serviceaccounts/token", ""):
            continue
        only_self = r.resource_names and set(r.resource_names) == {name}
        if only_self and r.namespace == namespace:
            continue
        found.append(r.evidence("create on serviceaccounts/token"))
    return found


def _admin_systems(rules: list[Rule]) -> dict[str, Evidence]:
    systems, evidence = _systems(rules)
    return {s["name"]: e for s, e in zip(systems, evidence, strict=True) if s["access"] == "admin"}


def analyse(
    files: Sequence[EvidenceFile], principal: str | None, namespace: str | None = None
) -> tuple[Any, ...]:
    names = [f.name for f in files]
    match = PRINCIPAL.fullmatch(principal or "")
    if not match:
        raise PrincipalNotFound(
            principal or "",
            "kubernetes",
            names,
            "A Kubernetes principal is system:serviceaccount:NAMESPACE:NAME.",
        )
    ns, name = match["namespace"], match["name"]
    cluster = _Cluster(files, (namespace or "").strip() or "default")
    grants = cluster.grants(ns, name)
    if not grants.present and cluster.namespace_less and not namespace and ns != "default":
        # Manifests without namespaces (kustomize bases, namespace-install.yaml) are
        # applied into one namespace: read them in the principal's own.
        cluster = _Cluster(files, ns)
        grants = cluster.grants(ns, name)
    if not grants.present:
        hint = "No ServiceAccount object and no binding subject names it."
        if cluster.namespace_less:
            hint += (
                f" Objects without a namespace were read as in {cluster.default_ns!r}; "
                "give the namespace they are applied to (--namespace)."
            )
        raise PrincipalNotFound(principal or "", "kubernetes", names, hint)
    return _propose(cluster, grants, ns, name)


def _propose(cluster: _Cluster, grants: Grants, namespace: str, name: str) -> tuple[Any, ...]:
    out = Proposals()
    rules = grants.rules
    direct = _alters(grants, namespace, name)
    if direct:
        out.add("alters_own_access", True, direct[0], direct[1])
    else:
        path = _act_as(cluster, grants, namespace, name)
        if path:
            out.add("alters_own_access", True, path[0], path[1])
    tokens = _token_rules(rules, namespace, name)
    if tokens:
        out.add("decides_own_scopes", True, "k8s.serviceaccount_token", tokens)
    # The files are taken as the cluster's RBAC: "false" needs every binding of the
    # account resolved, and at least one of them (a lone ServiceAccount says nothing).
    if grants.complete and grants.read:
        out.add("alters_own_access", False, "k8s.no_self_modification", grants.read)
        out.add("decides_own_scopes", False, "k8s.fixed_scopes", grants.read)

    static: list[Evidence] = []
    workloads: list[Evidence] = []
    me_evidence: Evidence | None = None
    account = cluster.accounts.get((namespace, name))
    if account is not None:
        obj, file, where = account
        me_evidence = Evidence(file, where, f"ServiceAccount {namespace}/{name}")
        if as_list(obj.get("secrets")):
            static.append(
                Evidence(file, where, "the service account lists long-lived token secrets")
            )
    for obj, file, where in cluster.objects:
        kind = obj.get("kind")
        if kind == "Secret" and cluster.namespace_of(obj) == namespace:
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if (
                obj.get("type") == "kubernetes.io/service-account-token"
                and annotations.get("kubernetes.io/service-account.name") == name
            ):
                static.append(
                    Evidence(file, where, f"{_label(obj)} holds a token that never expires")
                )
        if (
            kind in WORKLOAD_KINDS
            and cluster.namespace_of(obj) == namespace
            and _pod_account(obj) == name
        ):
            workloads.append(Evidence(file, where, f"{_label(obj)} runs as {name}"))
    if static:
        out.add("credential_model", "static_secret", "k8s.long_lived_token", static)
    elif me_evidence:
        out.add("credential_model", "workload_identity", "k8s.service_account", [me_evidence])

    shared = grants.shared
    if len(workloads) >= 2:
        shared = workloads + shared
    if shared:
        out.add("shared_platform_role", True, "k8s.shared_service_account", shared)

    systems, evidence = _systems(rules)
    if systems:
        out.add("systems", systems, "k8s.access_levels", evidence)
    return out.result()


def _systems(rules: list[Rule]) -> tuple[list[dict[str, str]], list[Evidence]]:
    rank = {"read": 1, "write": 2, "admin": 3}
    best: dict[str, tuple[str, Rule]] = {}
    for rule in rules:
        verbs = set(rule.verbs)
        for resource in rule.resources:
            base = resource.split("/")[0]
            if rule.namespace is not None and base in CLUSTER_SCOPED:
                continue
            if "*" in verbs or base in RBAC_RESOURCES or resource == "*":
                access = "admin" if ("*" in verbs or base in RBAC_RESOURCES) else None
                if access is None:
                    access = "write" if verbs & WRITE_VERBS else "read"
            elif verbs & {"escalate", "bind", "impersonate"}:
                access = "admin"
            elif verbs & WRITE_VERBS:
                access = "write"
            elif verbs & READ_VERBS:
                access = "read"
            else:
                continue
            scope = f" in {rule.namespace}" if rule.namespace else ""
            system = f"kubernetes {'all resources' if resource == '*' else resource}{scope}"
            current = best.get(system)
            if current is None or rank[access] > rank[current[0]]:
                best[system] = (access, rule)
    systems = [{"name": s, "access": best[s][0]} for s in sorted(best)]
    evidence = [best[s][1].evidence(f"{s}: {best[s][0]}") for s in sorted(best)]
    return systems, evidence


# The paths through other identities build on the cluster read above.
from .kubernetes_paths import _act_as, _pod_account  # noqa: E402
