"""Google Cloud: what a service account is granted by a project's IAM policy.

Input: ``gcloud projects get-iam-policy`` JSON (``bindings``), custom role
definitions (``name``, ``includedPermissions``; one per file or a list), and
optionally ``gcloud iam service-accounts keys list`` output. Predefined roles that
matter are data (``gcp_roles.yaml``); custom roles are read from their files, and a
custom role that is bound but not in the files leaves the grant incomplete.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .common import Evidence, EvidenceError, EvidenceFile, PrincipalNotFound, Proposals, as_list

DATA_FILE = Path(__file__).with_name("gcp_roles.yaml")
RANK = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True, slots=True)
class RoleData:
    roles: dict[str, dict[str, Any]]
    self_modifying: frozenset[str]
    token: frozenset[str]
    act_as_roles: frozenset[str] = frozenset()
    act_as_permissions: frozenset[str] = frozenset()
    deploy_roles: frozenset[str] = frozenset()
    deploy_permissions: frozenset[str] = frozenset()


@functools.cache
def role_data() -> RoleData:
    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    return RoleData(
        roles=raw["roles"],
        self_modifying=frozenset(raw["self_modifying_permissions"]),
        token=frozenset(raw["token_permissions"]),
        act_as_roles=frozenset(raw.get("act_as_roles", ())),
        act_as_permissions=frozenset(raw.get("act_as_permissions", ())),
        deploy_roles=frozenset(raw.get("deploy_roles", ())),
        deploy_permissions=frozenset(raw.get("deploy_permissions", ())),
    )


def permission_access(permission: str) -> str:
    """A permission's level from its verb: .get/.list read, setIamPolicy admin, else write."""
    verb = permission.rsplit(".", 1)[-1]
    if verb == "setIamPolicy":
        return "admin"
    if verb in ("get", "list", "getIamPolicy") or verb.startswith(("get", "list", "search")):
        return "read"
    return "write"


def role_access(role: str) -> str:
    """A predefined role's level from its name: Viewer read, Admin or owner admin, else write."""
    known = role_data().roles.get(role)
    if known:
        return str(known["access"])
    short = role.rsplit(".", 1)[-1] if "." in role else role.rsplit("/", 1)[-1]
    if short.endswith(("Admin", "admin")) or role == "roles/owner":
        return "admin"
    if short.endswith(("Viewer", "viewer", "Reader", "reader")) or short in ("browser",):
        return "read"
    return "write"


def role_service(role: str) -> str:
    """``roles/storage.objectViewer`` -> ``storage``; basic roles reach the whole project."""
    name = role.removeprefix("roles/")
    return name.split(".", 1)[0] if "." in name else "project (all services)"


def analyse(files: Sequence[EvidenceFile], principal: str | None) -> tuple[Any, ...]:
    names = [f.name for f in files]
    if not principal or not principal.startswith("serviceAccount:"):
        raise PrincipalNotFound(
            principal or "",
            "gcp",
            names,
            "A Google Cloud principal is serviceAccount:EMAIL.",
        )
    email = principal.removeprefix("serviceAccount:")
    data = role_data()
    custom: dict[str, tuple[dict[str, Any], str, str]] = {}
    bindings: list[tuple[dict[str, Any], str, str]] = []
    keys: list[Evidence] = []
    for file in files:
        for document in file.documents:
            items = document if isinstance(document, list) else [document]
            for index, item in enumerate(items):
                where = f"[{index}]" if isinstance(document, list) else ""
                if not isinstance(item, dict):
                    raise EvidenceError(file.name, f"{where or 'the document'} is not an object")
                if "bindings" in item:
                    for b_index, binding in enumerate(as_list(item["bindings"])):
                        if isinstance(binding, dict):
                            bindings.append((binding, file.name, f"{where}bindings[{b_index}]"))
                elif "includedPermissions" in item and "name" in item:
                    custom[str(item["name"])] = (item, file.name, where or "the role")
                elif "keys" in item or ("keyType" in item and "name" in item):
                    for k_index, key in enumerate(
                        as_list(item.get("keys")) if "keys" in item else [item]
                    ):
                        if (
                            isinstance(key, dict)
                            and f"/serviceAccounts/{email}/keys/" in str(key.get("name"))
                            and key.get("keyType", "USER_MANAGED") == "USER_MANAGED"
                        ):
                            keys.append(
                                Evidence(
                                    file.name,
                                    f"{where}keys[{k_index}]" if "keys" in item else where,
                                    f"user-managed key {str(key['name']).rsplit('/', 1)[-1]}",
                                )
                            )
                else:
                    raise EvidenceError(
                        file.name,
                        f"{where or 'the document'} is neither an IAM policy (bindings), a "
                        "custom role (name, includedPermissions) nor a list of keys",
                    )

    held: list[tuple[str, Evidence, dict[str, Any]]] = []
    shared: list[Evidence] = []
    for binding, source, where in bindings:
        members = [str(m) for m in as_list(binding.get("members"))]
        if principal not in members:
            continue
        role = str(binding.get("role"))
        cond = " (with a condition)" if binding.get("condition") else ""
        held.append((role, Evidence(source, where, f"{principal} holds {role}{cond}"), binding))
        others = [m for m in members if m != principal and m.startswith("serviceAccount:")]
        if others:
            shared.append(
                Evidence(
                    source, where, f"{role} is granted to {principal} and to {', '.join(others)}"
                )
            )
    if not held and not keys:
        raise PrincipalNotFound(principal, "gcp", names, "No binding lists it as a member.")

    out = Proposals()
    complete = bool(held)
    alters: list[tuple[str, Evidence]] = []
    tokens: list[Evidence] = []
    read: list[Evidence] = []
    best: dict[str, tuple[str, Evidence]] = {}

    def note(service: str, access: str, evidence: Evidence) -> None:
        current = best.get(service)
        if current is None or RANK[access] > RANK[current[0]]:
            best[service] = (access, evidence)

    for role, here, _binding in held:
        read.append(here)
        if role.startswith(("projects/", "organizations/")):
            found = custom.get(role)
            if found is None:
                complete = False
                continue
            definition, source, where = found
            permissions = [str(p) for p in as_list(definition.get("includedPermissions"))]
            for permission in permissions:
                evidence = Evidence(source, where, f"custom role {role} includes {permission}")
                if permission in data.self_modifying:
                    alters.append(("gcp.custom_role_permission", evidence))
                if permission in data.token:
                    tokens.append(evidence)
                note(permission.split(".", 1)[0], permission_access(permission), evidence)
            read.append(Evidence(source, where, f"read custom role {role}"))
            continue
        known = data.roles.get(role, {})
        if known.get("alters_own_access"):
            alters.append(
                (
                    "gcp.dangerous_role",
                    Evidence(here.file, here.where, f"{here.says}: {known['why']}"),
                )
            )
        if known.get("decides_own_scopes"):
            tokens.append(here)
        note(role_service(role), role_access(role), here)

    if alters:
        rule = alters[0][0]
        out.add("alters_own_access", True, rule, [e for r, e in alters if r == rule])
    path = None if alters else _act_as_path(principal, held, custom, bindings, best)
    if path:
        out.add("alters_own_access", True, "gcp.act_as_deploy", path)
    elif complete:
        out.add("alters_own_access", False, "gcp.no_self_modification", read)
    if tokens:
        out.add("decides_own_scopes", True, "gcp.token_creator", tokens)
    elif complete:
        out.add("decides_own_scopes", False, "gcp.fixed_scopes", read)
    if keys:
        out.add("credential_model", "static_secret", "gcp.service_account_key", keys)
    elif held:
        out.add("credential_model", "workload_identity", "gcp.service_account", [held[0][1]])
    if shared:
        out.add("shared_platform_role", True, "gcp.shared_binding", shared)
    if best:
        out.add(
            "systems",
            [{"name": s, "access": best[s][0]} for s in sorted(best)],
            "gcp.access_levels",
            [best[s][1] for s in sorted(best)],
        )
    return out.result()


def _abilities(
    roles: list[tuple[str, Evidence]], custom: dict[str, tuple[dict[str, Any], str, str]]
) -> dict[str, list[Evidence]]:
    """What held roles give: "act_as", "deploy", "alters" and "admin:<service>"."""
    data = role_data()
    found: dict[str, list[Evidence]] = {}
    for role, here in roles:
        if role in custom:
            definition, source, where = custom[role]
            for permission in as_list(definition.get("includedPermissions")):
                evidence = Evidence(source, where, f"custom role {role} includes {permission}")
                if permission in data.act_as_permissions:
                    found.setdefault("act_as", []).append(evidence)
                if permission in data.deploy_permissions:
                    found.setdefault("deploy", []).append(evidence)
                if permission in data.self_modifying:
                    found.setdefault("alters", []).append(evidence)
                if permission_access(str(permission)) == "admin":
                    found.setdefault(f"admin:{str(permission).split('.', 1)[0]}", []).append(
                        evidence
                    )
            continue
        if role in data.act_as_roles:
            found.setdefault("act_as", []).append(here)
        if role in data.deploy_roles:
            found.setdefault("deploy", []).append(here)
        known = data.roles.get(role, {})
        if known.get("alters_own_access"):
            found.setdefault("alters", []).append(
                Evidence(here.file, here.where, f"{here.says}: {known['why']}")
            )
        if role_access(role) == "admin":
            found.setdefault(f"admin:{role_service(role)}", []).append(here)
    return found


def _act_as_path(
    principal: str,
    held: list[tuple[str, Evidence, dict[str, Any]]],
    custom: dict[str, tuple[dict[str, Any], str, str]],
    bindings: list[tuple[dict[str, Any], str, str]],
    best: dict[str, tuple[str, Evidence]],
) -> list[Evidence] | None:
    """actAs on the project's service accounts together with a deploy permission: code
    it deploys runs as a more privileged service account."""
    mine = _abilities([(role, here) for role, here, _b in held], custom)
    if "act_as" not in mine or "deploy" not in mine:
        return None
    steps = [
        Evidence(e.file, e.where, f"Step 1: {principal} may deploy: {e.says}")
        for e in mine["deploy"][:1]
    ] + [
        Evidence(e.file, e.where, f"Step 2: and act as the project's service accounts: {e.says}")
        for e in mine["act_as"][:1]
    ]
    others: dict[str, list[tuple[str, Evidence]]] = {}
    for binding, source, where in bindings:
        role = str(binding.get("role"))
        for member in as_list(binding.get("members")):
            member = str(member)
            if member.startswith("serviceAccount:") and member != principal:
                others.setdefault(member, []).append(
                    (role, Evidence(source, where, f"{member} holds {role}"))
                )
    for member, roles in others.items():
        theirs = _abilities(roles, custom)
        stronger = theirs.get("alters") or [
            e
            for key, evidence in theirs.items()
            if key.startswith("admin:")
            and key.removeprefix("admin:")
            not in {s for s, (access, _e) in best.items() if access == "admin"}
            for e in evidence
        ]
        if stronger:
            name = member.removeprefix("serviceAccount:")
            return steps + [
                Evidence(
                    e.file,
                    e.where,
                    f"Step 3: code it deploys may run as {name}, which holds: {e.says}",
                )
                for e in stronger[:3]
            ]
    if not others:
        first = steps[0]
        return steps + [
            Evidence(
                first.file,
                first.where,
                "Step 3: code it deploys may run as any service account of the project: "
                "their grants are not in the files",
            )
        ]
    return None
