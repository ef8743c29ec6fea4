"""Kubernetes: every service account of a cluster export, what runs as it, what it may do.

Input: ``kubectl get serviceaccounts,roles,clusterroles,rolebindings,clusterrolebindings
-A -o yaml`` and ``kubectl get deployments,statefulsets,daemonsets,jobs,cronjobs,pods
-A -o yaml`` (one file or several; ``kind: List`` or multi-document). For each service
account: the workloads that run as it, their images and environment variable *names*
(values are never read), its labels and annotations, and its RBAC grants as the
evidence analyser reads them (:func:`assessments.evidence.kubernetes.analyse`, given
only the objects about that account so that 5,000 accounts are not 5,000 full reads;
its lines point at the objects' places in the original files).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from assessments.evidence import kubernetes as evidence_k8s
from assessments.evidence.common import Evidence, EvidenceError, EvidenceFile, PrincipalNotFound

from .common import DiscoveryError, Identity, Reading, data, declared, owner_from, parse_date

WORKLOAD_KINDS = evidence_k8s.WORKLOAD_KINDS
KNOWN_KINDS = frozenset(
    {
        *WORKLOAD_KINDS,
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
        "Secret",
        "ConfigMap",
        "Namespace",
        "Service",
    }
)
POD_PATHS = (("template", "spec"), ("jobTemplate", "spec", "template", "spec"), ())
# Writing these starts code that runs as some service account: acting through others.
DELEGATING = (
    "pods",
    "jobs",
    "cronjobs",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
)
SUBSET_WHERE = re.compile(r"^document, items\[(\d+)\](.*)$", re.DOTALL)

Obj = tuple[dict[str, Any], str, str]  # object, file name, where


def objects(files: Sequence[EvidenceFile]) -> list[Obj]:
    found: list[Obj] = []
    for file in files:
        for position, document in enumerate(file.documents):
            prefix = f"document {position + 1}" if len(file.documents) > 1 else "document"
            if not isinstance(document, dict):
                raise DiscoveryError(file.name, f"{prefix} is not a Kubernetes object")
            if document.get("kind") == "List" or ("items" in document and "kind" not in document):
                for index, item in enumerate(document.get("items") or []):
                    if isinstance(item, dict):
                        found.append((item, file.name, f"{prefix}, items[{index}]"))
            elif "kind" in document and "apiVersion" in document:
                found.append((document, file.name, prefix))
            else:
                raise DiscoveryError(
                    file.name,
                    f"{prefix} is not a Kubernetes object (no kind and apiVersion); expected "
                    "the output of kubectl get … -A -o yaml",
                )
    return found


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _ns(obj: dict[str, Any]) -> str:
    return str(_meta(obj).get("namespace") or "default")


def _label(obj: dict[str, Any]) -> str:
    meta = _meta(obj)
    return f"{obj.get('kind')} {_ns(obj)}/{meta.get('name', '?')}"


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj.get("kind") == "Pod":
        spec = obj.get("spec")
        return spec if isinstance(spec, dict) else None
    for path in POD_PATHS[:2]:
        node: Any = obj.get("spec")
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            return node
    return None


def _labels(obj: dict[str, Any]) -> dict[str, Any]:
    meta = _meta(obj)
    out: dict[str, Any] = {}
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if isinstance(value, dict):
            out.update(value)
    return out


def read(files: Sequence[EvidenceFile], source: str | None = None) -> Reading:
    if not source:
        raise DiscoveryError(
            files[0].name if files else "(no file)",
            "a Kubernetes discovery needs --source, the cluster's name",
        )
    found = objects(files)
    if not any(o.get("kind") in KNOWN_KINDS for o, _f, _w in found):
        raise DiscoveryError(
            files[0].name,
            "holds no service account, RBAC object or workload; expected the output of "
            "kubectl get serviceaccounts,roles,… -A -o yaml",
        )
    sha = {f.name: f.sha256 for f in files}
    accounts: dict[tuple[str, str], Obj] = {}
    workloads: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    roles: dict[tuple[str, str | None, str], Obj] = {}
    by_subject: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    group_all: list[Obj] = []
    group_ns: dict[str, list[Obj]] = defaultdict(list)
    secrets: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    for item in found:
        obj = item[0]
        kind = obj.get("kind")
        meta = _meta(obj)
        name = str(meta.get("name") or "")
        if kind == "ServiceAccount":
            accounts[(_ns(obj), name)] = item
        elif kind in WORKLOAD_KINDS:
            pod = _pod_spec(obj)
            if pod is not None:
                account = str(
                    pod.get("serviceAccountName") or pod.get("serviceAccount") or "default"
                )
                workloads[(_ns(obj), account)].append(item)
        elif kind in ("Role", "ClusterRole"):
            roles[(kind, _ns(obj) if kind == "Role" else None, name)] = item
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            binding_ns = _ns(obj) if kind == "RoleBinding" else None
            for subject in obj.get("subjects") or []:
                if not isinstance(subject, dict):
                    continue
                s_kind, s_name = subject.get("kind"), str(subject.get("name") or "")
                if s_kind == "ServiceAccount":
                    key = (str(subject.get("namespace") or binding_ns or "default"), s_name)
                    by_subject[key].append(item)
                elif s_kind == "User" and s_name.startswith("system:serviceaccount:"):
                    parts = s_name.split(":")
                    if len(parts) == 4:
                        by_subject[(parts[2], parts[3])].append(item)
                elif s_kind == "Group" and s_name in (
                    "system:serviceaccounts",
                    "system:authenticated",
                ):
                    group_all.append(item)
                elif s_kind == "Group" and s_name.startswith("system:serviceaccounts:"):
                    group_ns[s_name.rsplit(":", 1)[1]].append(item)
        elif kind == "Secret" and obj.get("type") == "kubernetes.io/service-account-token":
            owner = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
            if owner:
                secrets[(_ns(obj), str(owner))].append(item)

    keys = set(accounts) | set(workloads)
    identities = [
        _identity(
            key,
            accounts.get(key),
            workloads.get(key, []),
            [*by_subject.get(key, []), *group_ns.get(key[0], []), *group_all],
            roles,
            secrets.get(key, []),
            sha,
        )
        for key in sorted(keys)
    ]
    return Reading(
        kind="kubernetes",
        source=source,
        identities=identities,
        evidence_files=tuple(f.name for f in files),
    )


def _identity(
    key: tuple[str, str],
    account: Obj | None,
    runs: list[Obj],
    bindings: list[Obj],
    roles: dict[tuple[str, str | None, str], Obj],
    secrets: list[Obj],
    sha: dict[str, str],
) -> Identity:
    namespace, name = key
    principal = f"system:serviceaccount:{namespace}:{name}"
    d = data()
    if account is not None:
        obj, file, where = account
        here = Evidence(file, where, f"ServiceAccount {namespace}/{name}")
        created = parse_date(_meta(obj).get("creationTimestamp"))
        labels = _labels(obj)
    else:
        obj, file, where = runs[0]
        here = Evidence(file, where, f"{_label(obj)} runs as {name}")
        created = None
        labels = {}
    identity = Identity(
        external_id=principal,
        name=f"{namespace}/{name}",
        kind="kubernetes",
        type="service account",
        created=created,
        where=here,
    )
    owner = owner_from(labels)
    if account is not None:
        identity.signal("declared_agent", declared(labels, file, where, "label or annotation"))
    images: set[str] = set()
    env_names: set[str] = set()
    for w_obj, w_file, w_where in runs:
        w_labels = _labels(w_obj)
        owner = owner or owner_from(w_labels)
        identity.signal("declared_agent", declared(w_labels, w_file, w_where, f"{_label(w_obj)}"))
        pod = _pod_spec(w_obj) or {}
        for c_index, container in enumerate(
            [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
        ):
            if not isinstance(container, dict):
                continue
            c_where = f"{w_where}, container {container.get('name', c_index)}"
            image = str(container.get("image") or "")
            if image:
                images.add(image)
                bare = re.sub(r"(@sha256:.*|:[^/:]+)$", "", image)
                pattern = d.matches("framework_images", bare)
                if pattern:
                    identity.signal(
                        "model_access",
                        [
                            Evidence(
                                w_file,
                                c_where,
                                f"{_label(w_obj)} runs the agent-framework image {image}",
                            )
                        ],
                    )
            for env in container.get("env") or []:
                env_name = str(env.get("name") or "") if isinstance(env, dict) else ""
                if not env_name:
                    continue
                env_names.add(env_name)
                if d.matches("provider_env", env_name):
                    identity.signal(
                        "model_access",
                        [
                            Evidence(
                                w_file,
                                c_where,
                                f"{_label(w_obj)} is given model-provider credentials in {env_name}",
                            )
                        ],
                    )
                elif d.matches("mcp_env", env_name):
                    identity.signal(
                        "tool_reach",
                        [Evidence(w_file, c_where, f"{_label(w_obj)} is given {env_name} (MCP)")],
                    )
            for mount in container.get("volumeMounts") or []:
                path = str(mount.get("mountPath") or "") if isinstance(mount, dict) else ""
                if _mentions_mcp(path):
                    identity.signal(
                        "tool_reach",
                        [
                            Evidence(
                                w_file,
                                c_where,
                                f"{_label(w_obj)} mounts {path} (MCP configuration)",
                            )
                        ],
                    )
            for arg in [*(container.get("args") or []), *(container.get("command") or [])]:
                if isinstance(arg, str) and _mentions_mcp(arg):
                    identity.signal(
                        "tool_reach",
                        [Evidence(w_file, c_where, f"{_label(w_obj)} runs with {arg[:120]} (MCP)")],
                    )
        for v_index, volume in enumerate(pod.get("volumes") or []):
            if not isinstance(volume, dict):
                continue
            ref = (volume.get("configMap") or {}).get("name") or (volume.get("secret") or {}).get(
                "secretName"
            )
            if ref and _mentions_mcp(str(ref)):
                identity.signal(
                    "tool_reach",
                    [
                        Evidence(
                            w_file,
                            f"{w_where}, volumes[{v_index}]",
                            f"{_label(w_obj)} mounts {ref} (MCP configuration)",
                        )
                    ],
                )
    identity.owner_hint = owner
    identity.details["images"] = sorted(images)
    identity.details["env_names"] = sorted(env_names)
    identity.details["workloads"] = [_label(o) for o, _f, _w in runs]

    # RBAC: the evidence analyser, over the objects about this account only.
    subset: list[Obj] = []
    if account is not None:
        subset.append(account)
    seen_roles: set[int] = set()
    for b_obj, _b_file, _b_where in bindings:
        ref = b_obj.get("roleRef") or {}
        ref_kind = ref.get("kind")
        binding_ns = _ns(b_obj) if b_obj.get("kind") == "RoleBinding" else None
        role = roles.get(
            (ref_kind, binding_ns if ref_kind == "Role" else None, str(ref.get("name")))
        )
        if role is not None and id(role[0]) not in seen_roles:
            seen_roles.add(id(role[0]))
            subset.append(role)
    subset.extend(bindings)
    subset.extend(runs)
    subset.extend(secrets)
    identity.grants = sorted(
        [
            str(o.get("kind")),
            str(_meta(o).get("name")),
            str(o.get("roleRef") or ""),
            str(o.get("rules") or ""),
        ]
        for o, _f, _w in subset
        if o.get("kind") in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    )
    identity.grants.extend(sorted(images))
    identity.grants.extend(sorted(env_names))
    if bindings:
        proposals = analyse_subset(subset, principal, sha)
        _rbac_signals(identity, proposals)
    return identity


def _mentions_mcp(text: str) -> bool:
    lowered = text.lower()
    return any(
        re.search(rf"(^|[^a-z]){re.escape(w)}($|[^a-z])", lowered)
        for w in data().lower("mcp_words")
    )


def analyse_subset(subset: list[Obj], principal: str, sha: dict[str, str]) -> dict[str, Any]:
    """The evidence analyser's proposals for ``principal`` from ``subset`` of the objects,
    with every line pointing at the object's place in its original file."""
    by_file: dict[str, list[Obj]] = defaultdict(list)
    for item in subset:
        by_file[item[1]].append(item)
    places: dict[tuple[str, int], str] = {}
    files = []
    for name, items in by_file.items():
        for index, (_o, _f, where) in enumerate(items):
            places[(name, index)] = where
        files.append(
            EvidenceFile(
                name=name,
                sha256=sha.get(name, ""),
                documents=({"kind": "List", "items": [o for o, _f, _w in items]},),
            )
        )
    try:
        proposals = evidence_k8s.analyse(files, principal)
    except (PrincipalNotFound, EvidenceError):
        return {}

    def place(e: Evidence) -> Evidence:
        match = SUBSET_WHERE.match(e.where)
        if match is None:
            return e
        original = places.get((e.file, int(match[1])))
        return Evidence(e.file, f"{original}{match[2]}", e.says) if original else e

    return {p.key: (p.value, p.rule, [place(e) for e in p.evidence]) for p in proposals}


def _rbac_signals(identity: Identity, proposals: dict[str, Any]) -> None:
    altered = proposals.get("alters_own_access")
    if altered and altered[0] is True:
        identity.signal("alters_own_access", altered[2])
        identity.details["alters_rule"] = altered[1]
    systems = proposals.get("systems")
    if not systems:
        return
    values, _rule, evidence = systems
    writes = [(s, e) for s, e in zip(values, evidence, strict=False) if s["access"] != "read"]
    delegating = [
        e
        for s, e in writes
        if any(f"kubernetes {kind}" in s["name"] for kind in (*DELEGATING, "all resources"))
    ]
    identity.signal("delegates", delegating)
    threshold = int(data().raw.get("broad_write_services", 3))
    if len(writes) >= threshold or any("all resources" in s["name"] for s, _e in writes):
        identity.signal("tool_reach", [e for _s, e in writes])
