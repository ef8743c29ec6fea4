"""AWS: what an IAM role or user is granted, evaluated as IAM evaluates it.

Input is ``aws iam get-account-authorization-details`` output, or policy documents
taken as attached to the principal. Explicit Deny wins over Allow (a Deny with a
condition may not apply, so it never removes a grant); ``NotAction`` and
``NotResource`` are honoured; action wildcards are expanded against the IAM action
list (:mod:`.aws_actions`); managed policies are read at their default version;
group policies apply to their members; ``${aws:username}``, ``${aws:userid}`` and
``${aws:PrincipalAccount}`` are resolved for the principal. A permissions boundary in
the files narrows the grant; SCPs are not read, so a proposed ``true`` can overstate
(the assessor accepts or rejects it); a proposed ``false`` needs the complete grant.

v2: an ``Allow`` whose time condition can no longer hold does not count, any other
condition is quoted in its evidence; paths through removing what limits the principal
(a Deny policy, its boundary) and through other identities (compute running as another
role, instances with profiles, roles that trust it by ARN) are proposed with their
steps; CloudFormation templates and Terraform plans are read as an account
(:mod:`.aws_templates`); an IAM user's key is read from ``AccessKeyMetadata`` or the
credential report, never assumed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from .aws_model import (
    ACCOUNT_KEYS,
    ARN,
    ASSUME,
    SECRET_READS,
    Entity,
    Grant,
    Statement,
    _says,
    _step,
)
from .aws_paths import AwsAnalyser
from .common import (
    Evidence,
    EvidenceFile,
    Proposals,
    as_list,
)

# What other packages read from here (discovery builds on the same account model).
__all__ = ["ACCOUNT_KEYS", "ARN", "AwsAnalyser", "Entity", "Grant", "Statement", "analyse"]


def last_used(entity: Entity) -> tuple[dt.date | None, str]:
    """When the principal last acted, as the account file records it: a role's
    ``RoleLastUsed.LastUsedDate``, a user's ``PasswordLastUsed``; (None, "") when the
    files do not say (policy documents, templates)."""
    record = entity.record if isinstance(entity.record, dict) else {}
    if entity.kind == "role":
        used = record.get("RoleLastUsed")
        value, source = (
            (used.get("LastUsedDate") if isinstance(used, dict) else None),
            "RoleLastUsed",
        )
    else:
        value, source = record.get("PasswordLastUsed"), "PasswordLastUsed"
    try:
        day = dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None, ""
    return (day, f"{source} of {entity.arn}") if day else (None, "")


def analyse(
    files: Sequence[EvidenceFile], principal: str | None, *, now: dt.datetime | None = None
) -> tuple[Any, ...]:
    return analyse_with_use(files, principal, now=now)[0]


def analyse_with_use(
    files: Sequence[EvidenceFile], principal: str | None, *, now: dt.datetime | None = None
) -> tuple[tuple[Any, ...], tuple[dt.date | None, str]]:
    """The proposals, and when the principal last acted (``last_used``)."""
    analyser = AwsAnalyser(files, principal, now=now)
    entity = analyser.find_principal()
    grant = analyser.grant(entity, with_loose=True)
    out = Proposals()

    altered = analyser.alters(entity, grant)
    if altered:
        out.add("alters_own_access", True, altered[0], altered[1])
    elif grant.complete:
        out.add(
            "alters_own_access",
            False,
            "aws.no_self_modification",
            [*_read_all(grant), *analyser.ignored],
        )

    several = _assume_several(grant)
    if several:
        out.add("decides_own_scopes", True, "aws.assume_several_roles", several)
    reachable = analyser.assumable(entity, grant)
    if len(reachable) >= 2:
        out.add(
            "decides_own_scopes",
            True,
            "aws.assume_several_roles",
            [_step(1, step) for _role, step in reachable[:10]],
        )
    session = grant.allows_somewhere("sts:getfederationtoken")
    if session:
        out.add(
            "decides_own_scopes",
            True,
            "aws.session_policies",
            [_says(session[0], "sts:GetFederationToken", None)],
        )
    secrets = _broad_secret_reads(grant)
    if secrets:
        out.add("decides_own_scopes", True, "aws.secret_read_broad", secrets)
    if grant.complete:
        out.add("decides_own_scopes", False, "aws.fixed_scopes", _read_all(grant))

    if entity.record:
        here = Evidence(entity.file, entity.where, f"{entity.kind} {entity.arn}")
        if entity.kind == "user":
            # Only a key the files show: a user may sign in with a password alone.
            keys = analyser.access_keys.get(entity.name, [])
            if keys:
                out.add("credential_model", "static_secret", "aws.iam_user_keys", keys)
        else:
            out.add("credential_model", "workload_identity", "aws.assumed_role", [here])
            _shared_role(out, analyser, entity)

    systems, evidence = analyser.systems(grant)
    if systems:
        out.add("systems", systems, "aws.access_levels", evidence)
    return out.result(), last_used(entity)


def _read_all(grant: Grant) -> list[Evidence]:
    return grant.read


def _assume_several(grant: Grant) -> list[Evidence]:
    targets: dict[str, Statement] = {}
    for st in grant.allows_somewhere("sts:assumerole"):
        if st.uses_not_resource:
            return [_says(st, ASSUME, "every role but the ones listed")]
        for resource in st.resource_text:
            if "*" in resource or "?" in resource or "${" in resource:
                return [_says(st, ASSUME, resource)]
            targets.setdefault(resource, st)
    reachable = {r: st for r, st in targets.items() if grant.allows("sts:assumerole", r)}
    if len(reachable) >= 2:
        return [_says(st, ASSUME, r) for r, st in reachable.items()]
    return []


def _broad_secret_reads(grant: Grant) -> list[Evidence]:
    for action in SECRET_READS:
        for st in grant.allows_somewhere(action.lower()):
            for resource in st.resource_text:
                if st.uses_not_resource or "*" in resource:
                    return [_says(st, action, resource)]
    return []


def _shared_role(out: Proposals, analyser: AwsAnalyser, role: Entity) -> None:
    profiles = [p for p in as_list(role.record.get("InstanceProfileList")) if isinstance(p, dict)]
    trusted = sorted(
        {name for st in analyser.trust(role) if st.effect == "Allow" for name in st.resource_text}
    )
    here = Evidence(
        role.file,
        role.where,
        f"{len(profiles)} instance profile{'s' if len(profiles) != 1 else ''} "
        f"({', '.join(str(p.get('InstanceProfileName')) for p in profiles) or 'none'}); "
        f"trusted by {', '.join(trusted) or 'nobody'}",
    )
    if len(profiles) >= 2 or len(trusted) >= 2:
        out.add("shared_platform_role", True, "aws.role_shared", [here])
    else:
        out.add("shared_platform_role", False, "aws.role_single_use", [here])
