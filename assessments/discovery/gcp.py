"""Google Cloud: every service account of a project, with its grants and signals.

Input: ``gcloud iam service-accounts list --format=json`` (a list of accounts with
``email``), ``gcloud projects get-iam-policy PROJECT --format=json`` (``bindings``) and
custom role files (``name``, ``includedPermissions``). Each account's grants are read
by the evidence analyser (:func:`assessments.evidence.gcp.analyse`) from the policy and
role files; ``serviceAccount:`` members of the policy that the list lacks (service
agents, accounts of other projects) are identities too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from assessments.evidence import gcp as evidence_gcp
from assessments.evidence.common import Evidence, EvidenceError, EvidenceFile, PrincipalNotFound

from .common import DiscoveryError, Identity, Reading, data, parse_date


def _items(document: Any) -> list[Any]:
    if isinstance(document, dict) and isinstance(document.get("accounts"), list):
        return document["accounts"]  # the REST API's shape
    return document if isinstance(document, list) else [document]


def _is_account(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("email"), str) and "bindings" not in item


def classify(
    files: Sequence[EvidenceFile],
) -> tuple[list[tuple[dict[str, Any], str, str]], list[EvidenceFile]]:
    """The listed service accounts and the policy or role files; DiscoveryError else."""
    listed: list[tuple[dict[str, Any], str, str]] = []
    policy_files: list[EvidenceFile] = []
    for file in files:
        items = [i for d in file.documents for i in _items(d)]
        if items and all(_is_account(i) for i in items):
            for index, item in enumerate(items):
                listed.append((item, file.name, f"[{index}]"))
        elif items and all(
            isinstance(i, dict)
            and ("bindings" in i or ("includedPermissions" in i and "name" in i) or "keys" in i)
            for i in items
        ):
            policy_files.append(file)
        else:
            raise DiscoveryError(
                file.name,
                "not a Google Cloud export: expected gcloud iam service-accounts list, "
                "gcloud projects get-iam-policy (bindings) or custom roles "
                "(name, includedPermissions), as JSON",
            )
    if not listed and not any(
        "bindings" in i for f in policy_files for d in f.documents for i in _items(d)
    ):
        raise DiscoveryError(files[0].name, "lists no service account and no IAM binding")
    return listed, policy_files


def read(files: Sequence[EvidenceFile], source: str | None = None) -> Reading:
    listed, policy_files = classify(files)

    bindings: dict[str, list[tuple[str, Evidence, bool]]] = defaultdict(list)
    custom: dict[str, set[str]] = {}
    for file in policy_files:
        for document in file.documents:
            items = document if isinstance(document, list) else [document]
            for index, item in enumerate(items):
                where = f"[{index}]" if isinstance(document, list) else ""
                if "includedPermissions" in item:
                    custom[str(item["name"])] = {
                        str(p) for p in item.get("includedPermissions") or []
                    }
                for b_index, binding in enumerate(item.get("bindings") or []):
                    if not isinstance(binding, dict):
                        continue
                    role = str(binding.get("role"))
                    for member in binding.get("members") or []:
                        member = str(member)
                        if member.startswith("serviceAccount:"):
                            here = Evidence(
                                file.name, f"{where}bindings[{b_index}]", f"{member} holds {role}"
                            )
                            bindings[member.removeprefix("serviceAccount:")].append(
                                (role, here, bool(binding.get("condition")))
                            )

    accounts: dict[str, tuple[dict[str, Any], str, str]] = {}
    for item, file, where in listed:
        accounts.setdefault(str(item["email"]), (item, file, where))
    for email in bindings:
        accounts.setdefault(email, ({}, "", ""))
    projects = Counter(
        str(item.get("projectId") or _project(email))
        for email, (item, _f, _w) in accounts.items()
        if item
    ) or Counter(_project(e) for e in accounts)
    identities = [
        _identity(email, item, file, where, bindings.get(email, []), custom, policy_files)
        for email, (item, file, where) in sorted(accounts.items())
    ]
    return Reading(
        kind="gcp",
        source=source or (projects.most_common(1)[0][0] if projects else ""),
        identities=identities,
        evidence_files=tuple(f.name for f in policy_files),
    )


def _project(email: str) -> str:
    domain = email.partition("@")[2]
    if domain.endswith(".iam.gserviceaccount.com"):
        return domain.removesuffix(".iam.gserviceaccount.com")
    return domain


def _identity(
    email: str,
    item: dict[str, Any],
    file: str,
    where: str,
    held: list[tuple[str, Evidence, bool]],
    custom: dict[str, set[str]],
    policy_files: list[EvidenceFile],
) -> Identity:
    d = data()
    here = (
        Evidence(file, where, f"service account {email}")
        if item
        else (held[0][1] if held else None)
    )
    identity = Identity(
        external_id=email,
        name=str(item.get("displayName") or email.partition("@")[0]),
        kind="gcp",
        type="service account",
        created=parse_date(item.get("createTime")),
        where=here,
    )
    last = parse_date(item.get("lastAuthenticatedTime"))
    if last:
        identity.last_used, identity.last_used_from = last, "lastAuthenticatedTime"
    if item.get("disabled"):
        identity.details["disabled"] = True
    identity.grants = sorted([role, cond] for role, _e, cond in held)
    model_roles = d.lower("gcp_model_roles")
    model_perms = d.lower("gcp_model_permissions")
    delegate_roles = d.lower("gcp_delegate_roles")
    delegate_perms = d.lower("gcp_delegate_permissions")
    for role, evidence, _cond in held:
        perms = {p.lower() for p in custom.get(role, ())}
        identity.grants.append(sorted(perms))
        if role.lower() in model_roles:
            identity.signal("model_access", [evidence])
        named = sorted(p for p in perms if p in model_perms)
        if named:
            identity.signal(
                "model_access",
                [
                    Evidence(
                        evidence.file,
                        evidence.where,
                        f"{evidence.says}, which includes {', '.join(named)}",
                    )
                ],
            )
        if role.lower() in delegate_roles:
            identity.signal("delegates", [evidence])
        acting = sorted(p for p in perms if p in delegate_perms)
        if acting:
            identity.signal(
                "delegates",
                [
                    Evidence(
                        evidence.file,
                        evidence.where,
                        f"{evidence.says}, which includes {', '.join(acting)}",
                    )
                ],
            )
    if held and policy_files:
        try:
            proposals = {
                p.key: p for p in evidence_gcp.analyse(policy_files, f"serviceAccount:{email}")
            }
        except (PrincipalNotFound, EvidenceError):
            proposals = {}
        altered = proposals.get("alters_own_access")
        if altered is not None and altered.value is True:
            identity.signal("alters_own_access", altered.evidence)
            identity.details["alters_rule"] = altered.rule
        systems = proposals.get("systems")
        if systems is not None:
            writes = [
                (s, e)
                for s, e in zip(systems.value, systems.evidence, strict=False)
                if s["access"] != "read"
            ]
            threshold = int(d.raw.get("broad_write_services", 3))
            if len(writes) >= threshold or any(
                s["name"] == "project (all services)" for s, _e in writes
            ):
                identity.signal("tool_reach", [e for _s, e in writes])
    return identity
