"""Kubernetes: what a service account may do, from RBAC manifests.

A ``RoleBinding`` grants its role's rules in the binding's namespace only, so a
``ClusterRole`` bound that way grants nothing on cluster-scoped resources (nodes,
namespaces, cluster roles and bindings, ...). ``*`` verbs and resources count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Rule:
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    namespace: str | None  # None: cluster-wide (ClusterRoleBinding)
    file: str
    where: str
    via: str  # "ClusterRole admin bound by RoleBinding ci/deployers"

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
        return Evidence(
            self.file,
            self.where,
            f"{says}: verbs {', '.join(self.verbs)} on {', '.join(self.resources)} "
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


def analyse(files: Sequence[EvidenceFile], principal: str | None) -> tuple[Any, ...]:
    names = [f.name for f in files]
    match = PRINCIPAL.fullmatch(principal or "")
    if not match:
        raise PrincipalNotFound(
            principal or "",
            "kubernetes",
            names,
            "A Kubernetes principal is system:serviceaccount:NAMESPACE:NAME.",
        )
    namespace, name = match["namespace"], match["name"]
    objects = _objects(files)
    roles: dict[tuple[str, str | None, str], tuple[dict[str, Any], str, str]] = {}
    for obj, file, where in objects:
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        if kind in ("Role", "ClusterRole"):
            ns = meta.get("namespace") if kind == "Role" else None
            roles[(kind, ns, str(meta.get("name")))] = (obj, file, where)

    def is_me(subject: Any, binding_ns: str | None) -> bool:
        if not isinstance(subject, dict):
            return False
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            return (
                subject.get("name") == name
                and (subject.get("namespace") or binding_ns) == namespace
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

    present = False
    rules: list[Rule] = []
    complete = True
    read: list[Evidence] = []
    shared: list[Evidence] = []
    static: list[Evidence] = []
    workloads: list[Evidence] = []
    me_evidence: Evidence | None = None
    for obj, file, where in objects:
        kind = obj.get("kind")
        meta = obj.get("metadata") or {}
        if (
            kind == "ServiceAccount"
            and meta.get("name") == name
            and (meta.get("namespace") or "default") == namespace
        ):
            present = True
            me_evidence = Evidence(file, where, f"ServiceAccount {namespace}/{name}")
            if as_list(obj.get("secrets")):
                static.append(
                    Evidence(file, where, "the service account lists long-lived token secrets")
                )
        if kind == "Secret" and (meta.get("namespace") or "default") == namespace:
            annotations = meta.get("annotations") or {}
            if (
                obj.get("type") == "kubernetes.io/service-account-token"
                and annotations.get("kubernetes.io/service-account.name") == name
            ):
                static.append(
                    Evidence(file, where, f"{_label(obj)} holds a token that never expires")
                )
        if kind in WORKLOAD_KINDS and (meta.get("namespace") or "default") == namespace:
            spec = obj.get("spec") or {}
            for path in (("template", "spec"), ("jobTemplate", "spec", "template", "spec"), ()):
                pod = spec
                for part in path:
                    pod = (pod or {}).get(part) if isinstance(pod, dict) else None
                if isinstance(pod, dict) and pod.get("serviceAccountName") == name:
                    workloads.append(Evidence(file, where, f"{_label(obj)} runs as {name}"))
                    break
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        binding_ns = meta.get("namespace") if kind == "RoleBinding" else None
        subjects = as_list(obj.get("subjects"))
        if not any(is_me(s, binding_ns) for s in subjects):
            continue
        # Named as itself (not only through a group every account is in) counts as present.
        present = present or any(
            isinstance(s, dict) and s.get("kind") != "Group" and is_me(s, binding_ns)
            for s in subjects
        )
        others = [s for s in subjects if isinstance(s, dict) and not is_me(s, binding_ns)]
        group = [s for s in subjects if isinstance(s, dict) and s.get("kind") == "Group"]
        if others or group:
            shared.append(
                Evidence(
                    file,
                    where,
                    f"{_label(obj)} also grants its role to "
                    + ", ".join(f"{s.get('kind')} {s.get('name')}" for s in (others or group)),
                )
            )
        ref = obj.get("roleRef") or {}
        ref_kind, ref_name = ref.get("kind"), str(ref.get("name"))
        key = (ref_kind, binding_ns if ref_kind == "Role" else None, ref_name)
        found = roles.get(key)  # type: ignore[arg-type]
        if found is None:
            complete = False
            continue
        role, role_file, role_where = found
        if role.get("aggregationRule"):
            complete = False
        via = f"{ref_kind} {ref_name} bound by {_label(obj)}"
        read.append(Evidence(role_file, role_where, f"read {via}"))
        for index, rule in enumerate(as_list(role.get("rules"))):
            if (
                not isinstance(rule, dict)
                or "nonResourceURLs" in rule
                and not rule.get("resources")
            ):
                continue
            rules.append(
                Rule(
                    api_groups=tuple(str(g) for g in as_list(rule.get("apiGroups"))),
                    resources=tuple(str(r) for r in as_list(rule.get("resources"))),
                    verbs=tuple(str(v) for v in as_list(rule.get("verbs"))),
                    namespace=binding_ns,
                    file=role_file,
                    where=f"{role_where}, rules[{index}]",
                    via=via,
                )
            )
    if not present:
        raise PrincipalNotFound(
            principal or "",
            "kubernetes",
            names,
            "No ServiceAccount object and no binding subject names it.",
        )

    out = Proposals()
    rbac = [
        r
        for r in rules
        if any(r.allows("*", res, "rbac.authorization.k8s.io") for res in RBAC_RESOURCES)
    ]
    if rbac:
        out.add(
            "alters_own_access",
            True,
            "k8s.rbac_wildcard",
            [r.evidence("every verb on RBAC objects") for r in rbac],
        )
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
        out.add("alters_own_access", True, "k8s.escalate_bind_impersonate", escalation)
    tokens = [
        r.evidence("create on serviceaccounts/token")
        for r in rules
        if r.allows("create", "serviceaccounts/token", "")
    ]
    if tokens:
        out.add("alters_own_access", True, "k8s.serviceaccount_token", tokens)
        out.add("decides_own_scopes", True, "k8s.serviceaccount_token", tokens)
    # The files are taken as the cluster's RBAC: "false" needs every binding of the
    # account resolved, and at least one of them (a lone ServiceAccount says nothing).
    if complete and read:
        out.add("alters_own_access", False, "k8s.no_self_modification", read)
        out.add("decides_own_scopes", False, "k8s.fixed_scopes", read)

    if static:
        out.add("credential_model", "static_secret", "k8s.long_lived_token", static)
    elif me_evidence:
        out.add("credential_model", "workload_identity", "k8s.service_account", [me_evidence])

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
