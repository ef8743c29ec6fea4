"""Microsoft Entra ID: every service principal of a tenant export, with its signals.

Input: Microsoft Graph ``GET /servicePrincipals`` JSON (the ``value`` list as Graph
returns it, or a bare list), each with ``appId``, ``displayName``, ``tags``,
``servicePrincipalType``, ``signInActivity`` where the export has it, and its
application permissions (``appRoleAssignments``: ``appRoleValue``/``value`` or, as
Graph returns them, ``appRoleId``, resolved from the data file for Microsoft Graph).
Agent identities and blueprints are recognised as Entra Agent ID marks them (their
``@odata.type``, type or tags; the lists are data). Self-granting permissions are the
evidence analyser's own list (:data:`assessments.evidence.entra.SELF_GRANTING`).
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Sequence
from typing import Any

from assessments.evidence import entra as evidence_entra
from assessments.evidence.common import Evidence, EvidenceFile

from .common import (
    DiscoveryError,
    Identity,
    Reading,
    data,
    declared,
    latest,
    owner_from,
    parse_date,
)

MICROSOFT_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # Microsoft's own first-party apps


def principals(file: EvidenceFile) -> tuple[list[dict[str, Any]], str]:
    """The service principals of one file, and the tenant id it states (or "")."""
    found: list[dict[str, Any]] = []
    tenant = ""
    for document in file.documents:
        if isinstance(document, dict) and isinstance(document.get("value"), list):
            items, tenant = document["value"], str(document.get("tenantId") or tenant)
        elif isinstance(document, list):
            items = document
        else:
            items = [document]
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("appId"), str):
                raise DiscoveryError(
                    file.name,
                    "not a Microsoft Graph service principals export: expected "
                    'GET /servicePrincipals JSON ({"value": [...]}) whose items have an appId',
                )
            found.append(item)
    return found, tenant


def permissions_of(sp: dict[str, Any]) -> list[tuple[int, str]]:
    """(index in appRoleAssignments, permission value) for each resolvable assignment."""
    by_id = {
        str(k).lower(): str(v) for k, v in (data().raw.get("entra_graph_app_roles") or {}).items()
    }
    out = []
    for index, assignment in enumerate(sp.get("appRoleAssignments") or []):
        if isinstance(assignment, str):
            out.append((index, assignment))
            continue
        if not isinstance(assignment, dict):
            continue
        value = (
            assignment.get("appRoleValue")
            or assignment.get("value")
            or assignment.get("permission")
        )
        if not value:
            value = by_id.get(str(assignment.get("appRoleId") or "").lower())
        if value:
            out.append((index, str(value)))
    return out


def read(files: Sequence[EvidenceFile], source: str | None = None) -> Reading:
    identities = []
    tenants: Counter[str] = Counter()
    for file in files:
        items, tenant = principals(file)
        if tenant:
            tenants[tenant] += len(items) + 1
        prefix = (
            "value" if any(isinstance(d, dict) and "value" in d for d in file.documents) else ""
        )
        for index, sp in enumerate(items):
            where = f"{prefix}[{index}]"
            identities.append(_identity(sp, file.name, where))
            owner_tenant = str(sp.get("appOwnerOrganizationId") or "")
            if owner_tenant and owner_tenant != MICROSOFT_TENANT and not tenant:
                tenants[owner_tenant] += 1
    if not identities:
        raise DiscoveryError(files[0].name if files else "(no file)", "lists no service principal")
    return Reading(
        kind="entra",
        source=source or (tenants.most_common(1)[0][0] if tenants else ""),
        identities=identities,
        evidence_files=tuple(f.name for f in files),
    )


def _tags(sp: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in sp.get("tags") or []:
        text = str(tag)
        for sep in (":", "="):
            if sep in text:
                key, _, value = text.partition(sep)
                out[key.strip()] = value.strip()
                break
        else:
            out[text] = ""
    return out


def _identity(sp: dict[str, Any], file: str, where: str) -> Identity:
    d = data()
    app_id = str(sp["appId"])
    tags = _tags(sp)
    owners = [
        str(o.get("userPrincipalName") or o.get("mail") or o.get("displayName"))
        for o in sp.get("owners") or []
        if isinstance(o, dict)
    ]
    identity = Identity(
        external_id=app_id,
        name=str(sp.get("displayName") or app_id),
        kind="entra",
        type=f"service principal ({sp.get('servicePrincipalType') or 'Application'})",
        created=parse_date(sp.get("createdDateTime")),
        owner_hint=owner_from(tags) or (owners[0] if owners else ""),
        where=Evidence(file, where, f"service principal {sp.get('displayName')} ({app_id})"),
    )
    activity = sp.get("signInActivity") or {}
    if isinstance(activity, dict):
        nested = activity.get("lastSignInActivity")
        day = latest(
            parse_date(activity.get("lastSignInDateTime")),
            parse_date(nested.get("lastSignInDateTime")) if isinstance(nested, dict) else None,
        )
        if day:
            identity.last_used, identity.last_used_from = day, "signInActivity"
    if sp.get("accountEnabled") is False:
        identity.details["disabled"] = True
    # Agent ID marks: its type, its service principal type, or its tags.
    marks = [str(sp.get("@odata.type") or ""), str(sp.get("servicePrincipalType") or "")]
    for mark in marks:
        if mark and any(
            fnmatch.fnmatchcase(mark.lower(), p.lower()) for p in d.list("entra_agent_types")
        ):
            identity.signal(
                "model_access",
                [Evidence(file, where, f"Entra Agent ID marks it as an agent ({mark})")],
            )
    agent_tags = d.lower("entra_agent_tags")
    for tag in sp.get("tags") or []:
        if str(tag).lower() in agent_tags:
            identity.signal("model_access", [Evidence(file, where, f"Entra Agent ID tag {tag}")])
    identity.signal("declared_agent", declared(tags, file, where, "tag"))

    permissions = permissions_of(sp)
    identity.details["permissions"] = [value for _i, value in permissions]
    identity.grants = sorted(value for _i, value in permissions)
    lines = {
        value: Evidence(
            file, f"{where}.appRoleAssignments[{index}]", f"application permission {value}"
        )
        for index, value in permissions
    }
    granting = [e for v, e in lines.items() if v in evidence_entra.SELF_GRANTING]
    identity.signal("alters_own_access", granting)
    writes: dict[str, Evidence] = {}
    for value, line in lines.items():
        if evidence_entra.permission_access(value) != "read":
            writes.setdefault(value.split(".", 1)[0], line)
    if len(writes) >= int(d.raw.get("broad_write_services", 3)):
        identity.signal("tool_reach", list(writes.values()))
    return identity


def evidence_document(sp_identity: Identity) -> dict[str, Any]:
    """What the evidence analyser reads for one service principal: its permissions."""
    return {
        "appId": sp_identity.external_id,
        "displayName": sp_identity.name,
        "permissions": list(sp_identity.details.get("permissions") or []),
    }
