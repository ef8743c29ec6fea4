"""Kubernetes: the paths to more access through other identities, such as workloads
that run as a stronger service account and that a principal may create or change."""

from __future__ import annotations

import re
from typing import Any

from .common import Evidence, as_list
from .kubernetes import (
    WORKLOAD_RESOURCES,
    Grants,
    _admin_systems,
    _alters,
    _Cluster,
    _label,
)

STEP = re.compile(r"^Step \d+: ")


def _pod_account(obj: dict[str, Any]) -> str | None:
    spec = obj.get("spec") or {}
    for path in (("template", "spec"), ("jobTemplate", "spec", "template", "spec"), ()):
        pod: Any = spec
        for part in path:
            pod = pod.get(part) if isinstance(pod, dict) else None
        if isinstance(pod, dict) and "serviceAccountName" in pod:
            return str(pod["serviceAccountName"])
    return None


def _act_as(
    cluster: _Cluster, grants: Grants, namespace: str, name: str
) -> tuple[str, list[Evidence]] | None:
    """Acting as a more privileged service account: creating or patching pods or
    workload controllers where one can run as it, or ``nodes/proxy``."""
    me = f"{namespace}/{name}"
    mine = _admin_systems(grants.rules)
    candidates: dict[tuple[str, str], Evidence] = {}
    for ns, sa in cluster.accounts:
        obj, file, where = cluster.accounts[(ns, sa)]
        candidates[(ns, sa)] = Evidence(file, where, f"ServiceAccount {ns}/{sa}")
    for obj, file, where, binding_ns in cluster.bindings:
        for subject in as_list(obj.get("subjects")):
            if isinstance(subject, dict) and subject.get("kind") == "ServiceAccount":
                key = (
                    str(subject.get("namespace") or binding_ns or cluster.default_ns),
                    str(subject.get("name")),
                )
                candidates.setdefault(
                    key, Evidence(file, where, f"{_label(obj)} names {key[0]}/{key[1]}")
                )
    candidates.pop((namespace, name), None)
    for rule in grants.rules:
        kinds = [
            (verb, resource)
            for resource in WORKLOAD_RESOURCES
            for verb in ("create", "patch", "update")
            if rule.allows(verb, resource)
        ]
        if not kinds:
            continue
        verb, resource = kinds[0]
        first = _step(1, rule.evidence(f"{me} may {verb} {resource}"))
        for (ns, sa), seen in candidates.items():
            if rule.namespace is not None and ns != rule.namespace:
                continue
            other = cluster.grants(ns, sa)
            holds = _alters(other, ns, sa)
            if holds:
                held = [_plain(e, f"{ns}/{sa} holds: ") for e in holds[1][:3]]
            else:
                extra = {k: e for k, e in _admin_systems(other.rules).items() if k not in mine}
                held = [
                    _plain(e, f"{ns}/{sa} holds admin access: ") for e in list(extra.values())[:3]
                ]
            if not held:
                continue
            return "k8s.workload_as_other_account", [
                first,
                _step(
                    2,
                    _plain(
                        seen,
                        f"a pod it creates or changes there may run as service account {ns}/{sa}: ",
                    ),
                ),
                *[_step(3, e) for e in held],
            ]
        if rule.namespace is None:
            return "k8s.workload_as_other_account", [
                first,
                _step(
                    2,
                    Evidence(
                        rule.file,
                        rule.where,
                        "cluster-wide, a pod it creates or changes may run as any service account of any "
                        "namespace (kube-system's included): their grants are not in the files",
                    ),
                ),
            ]
    for rule in grants.rules:
        if rule.namespace is None and any(
            rule.allows(verb, "nodes/proxy", "") for verb in ("get", "create", "*")
        ):
            return "k8s.nodes_proxy", [
                _step(1, rule.evidence(f"{me} may use nodes/proxy")),
                _step(
                    2,
                    Evidence(
                        rule.file,
                        rule.where,
                        "the kubelet API on every node runs commands in any pod there, as "
                        "that pod's service account",
                    ),
                ),
            ]
    return None


def _step(number: int, evidence: Evidence) -> Evidence:
    return Evidence(evidence.file, evidence.where, f"Step {number}: {STEP.sub('', evidence.says)}")


def _plain(evidence: Evidence, prefix: str) -> Evidence:
    return Evidence(evidence.file, evidence.where, prefix + STEP.sub("", evidence.says))
