"""Microsoft Entra ID: a service principal's Microsoft Graph application permissions.

Input: a JSON list of permission values (``Mail.Read``, ``Application.ReadWrite.OwnedBy``),
or an object (or list of objects) naming the app (``appId``, ``id``, ``displayName``)
with its ``permissions``. The list is the app's complete set of application
permissions, so "no permission lets it grant itself more" is proposed as ``false``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .common import Evidence, EvidenceError, EvidenceFile, PrincipalNotFound, Proposals

SELF_GRANTING = frozenset(
    {
        "RoleManagement.ReadWrite.Directory",
        "AppRoleAssignment.ReadWrite.All",
        "Application.ReadWrite.All",
        "Application.ReadWrite.OwnedBy",
    }
)
ADMIN_RESOURCES = frozenset({"RoleManagement", "AppRoleAssignment", "Application", "Policy"})
RANK = {"read": 1, "write": 2, "admin": 3}
APP_KEYS = ("appId", "id", "displayName", "appDisplayName")


def permission_access(value: str) -> str:
    resource, _, rest = value.partition(".")
    if ".ReadWrite" in f".{rest}" or rest.startswith(("Send", "Write", "Manage", "Create")):
        return "admin" if resource in ADMIN_RESOURCES else "write"
    return "read"


App = tuple[str | None, list[Any], str, str]  # ids ("a|b"), permissions, file, where


def _apps(files: Sequence[EvidenceFile]) -> list[App]:
    apps: list[App] = []
    for file in files:
        for document in file.documents:
            if isinstance(document, list) and all(isinstance(v, str) for v in document):
                apps.append((None, document, file.name, ""))
                continue
            items = document if isinstance(document, list) else [document]
            for index, item in enumerate(items):
                where = f"[{index}]" if isinstance(document, list) else ""
                if not isinstance(item, dict) or not isinstance(item.get("permissions"), list):
                    raise EvidenceError(
                        file.name,
                        "expected a list of Microsoft Graph permission values, or objects "
                        "with the app's appId or displayName and its permissions",
                    )
                ids = {str(item[k]) for k in APP_KEYS if item.get(k)}
                apps.append(
                    (
                        "|".join(sorted(ids)) or None,
                        item["permissions"],
                        file.name,
                        f"{where}.permissions" if where else "permissions",
                    )
                )
    return apps


def analyse(files: Sequence[EvidenceFile], principal: str | None) -> tuple[Any, ...]:
    apps = _apps(files)
    if principal:
        named = [a for a in apps if a[0] is not None]
        chosen = [a for a in named if principal in (a[0] or "").split("|")] or [
            a for a in apps if a[0] is None
        ]
        if not chosen:
            raise PrincipalNotFound(
                principal, "entra", [f.name for f in files], "No app has that id or name."
            )
        apps = chosen
    out = Proposals()
    evidence: list[Evidence] = []
    granting: list[Evidence] = []
    best: dict[str, tuple[str, Evidence]] = {}
    for _ids, permissions, file, where in apps:
        for index, value in enumerate(permissions):
            if not isinstance(value, str):
                raise EvidenceError(file, f"{where}permissions[{index}] is not a permission value")
            here = Evidence(file, f"{where}[{index}]", f"application permission {value}")
            evidence.append(here)
            if value in SELF_GRANTING:
                granting.append(here)
            resource = value.split(".", 1)[0]
            access = permission_access(value)
            if resource not in best or RANK[access] > RANK[best[resource][0]]:
                best[resource] = (access, here)
    if granting:
        out.add("alters_own_access", True, "entra.self_grant_permission", granting)
    elif evidence:
        out.add("alters_own_access", False, "entra.no_self_grant", evidence)
    if best:
        out.add(
            "systems",
            [{"name": f"Microsoft Graph {r}", "access": best[r][0]} for r in sorted(best)],
            "entra.access_levels",
            [best[r][1] for r in sorted(best)],
        )
    return out.result()
