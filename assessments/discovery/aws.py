"""AWS: every role and user of an account file, with last use and the five signals.

Input: ``aws iam get-account-authorization-details`` JSON (with ``RoleLastUsed`` where
the export has it) and optionally the credential report CSV (``aws iam
get-credential-report``, decoded) for users' password and access-key last use. Grants
are evaluated by the evidence analyser (:class:`assessments.evidence.aws.AwsAnalyser`,
one instance for the whole account so a 10,000-role file is read once); its
``alters_own_access`` rule is the signal of that name.

A grant counts for ``model_access`` only where a statement names the model service
(``bedrock:InvokeModel``, ``bedrock:*``): ``*`` alone does not make an administrator an
agent.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import io
from collections.abc import Sequence
from typing import Any

from assessments.evidence import aws as evidence_aws
from assessments.evidence.aws_actions import ACCESS_BY_LEVEL, catalog
from assessments.evidence.common import Evidence, EvidenceError, EvidenceFile

from .common import (
    DiscoveryError,
    Identity,
    Reading,
    aws_tags,
    data,
    declared,
    owner_from,
    parse_date,
)

REPORT_KEY = "CredentialReport"  # how a parsed credential report is held in an EvidenceFile
REPORT_HEADER = ("user", "arn")


def is_report(name: str, raw: bytes) -> bool:
    head = raw[:200].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return head.startswith(b"user,arn,")


def parse_report(name: str, sha256: str, raw: bytes) -> EvidenceFile:
    """The credential report as rows, refused when it is not one."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DiscoveryError(name, f"not UTF-8 text (byte {exc.start})") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or tuple(reader.fieldnames[:2]) != REPORT_HEADER:
        raise DiscoveryError(name, "not an IAM credential report (its header is user,arn,…)")
    try:
        rows = [dict(row) for row in reader]
    except csv.Error as exc:
        raise DiscoveryError(name, f"the credential report cannot be read: {exc}") from None
    for index, row in enumerate(rows):
        if None in row or any(v is None for v in row.values()):
            raise DiscoveryError(
                name, f"line {index + 2} of the credential report is cut short or too long"
            )
    return EvidenceFile(name=name, sha256=sha256, documents=({REPORT_KEY: rows},))


def _is_account(document: Any) -> bool:
    return isinstance(document, dict) and any(k in document for k in evidence_aws.ACCOUNT_KEYS)


def classify(files: Sequence[EvidenceFile]) -> tuple[list[EvidenceFile], list[EvidenceFile]]:
    """The account files and the credential reports; DiscoveryError for any other file."""
    accounts: list[EvidenceFile] = []
    reports: list[EvidenceFile] = []
    for file in files:
        if all(isinstance(d, dict) and REPORT_KEY in d for d in file.documents):
            reports.append(file)
        elif all(_is_account(d) for d in file.documents):
            accounts.append(file)
        else:
            raise DiscoveryError(
                file.name,
                "not an AWS account file: expected the JSON of aws iam "
                "get-account-authorization-details (RoleDetailList, UserDetailList, …) or "
                "the credential report CSV",
            )
    if not accounts:
        raise DiscoveryError(
            files[0].name if files else "(no file)",
            "an AWS discovery needs the account authorization-details JSON",
        )
    return accounts, reports


def read(files: Sequence[EvidenceFile], source: str | None = None) -> Reading:
    accounts, reports = classify(files)
    first = _first_arn(accounts)
    if first is None:
        raise DiscoveryError(accounts[0].name, "the account file lists no role and no user")
    try:
        analyser = evidence_aws.AwsAnalyser(accounts, first)
    except EvidenceError as error:
        raise DiscoveryError(error.file, error.message) from None
    used = _report_use(reports)
    identities = []
    for entity in [*analyser.account.roles.values(), *analyser.account.users.values()]:
        try:
            identities.append(_identity(analyser, entity, used))
        except EvidenceError as error:
            raise DiscoveryError(error.file, error.message) from None
    accounts_seen = sorted({i.external_id.split(":")[4] for i in identities})
    return Reading(
        kind="aws",
        source=source or ", ".join(accounts_seen),
        identities=identities,
        evidence_files=tuple(f.name for f in accounts),
    )


def _first_arn(files: Sequence[EvidenceFile]) -> str | None:
    for file in files:
        for document in file.documents:
            for key in ("RoleDetailList", "UserDetailList"):
                for record in document.get(key) or ():
                    arn = record.get("Arn") if isinstance(record, dict) else None
                    if isinstance(arn, str) and evidence_aws.ARN.fullmatch(arn):
                        return arn
    return None


def _report_use(reports: Sequence[EvidenceFile]) -> dict[str, tuple[Any, str, Evidence]]:
    """ARN -> (last use, what it was, the report line) from credential reports."""
    found: dict[str, tuple[Any, str, Evidence]] = {}
    for file in reports:
        for index, row in enumerate(file.documents[0][REPORT_KEY]):
            arn = row.get("arn") or ""
            candidates = [
                (parse_date(row.get("password_last_used")), "password sign-in"),
                (parse_date(row.get("access_key_1_last_used_date")), "access key 1"),
                (parse_date(row.get("access_key_2_last_used_date")), "access key 2"),
            ]
            dated = [(d, what) for d, what in candidates if d is not None]
            keys = [
                n for n in ("1", "2") if (row.get(f"access_key_{n}_active") or "").lower() == "true"
            ]
            line = Evidence(file.name, f"line {index + 2}", f"credential report for {row['user']}")
            if dated:
                day, what = max(dated)
                found[arn] = (day, f"credential report ({what})", line)
            else:
                found[arn] = (None, "", line)
            if keys:
                found[arn + "#keys"] = (keys, "", line)
    return found


def _says(st: evidence_aws.Statement, text: str) -> Evidence:
    return Evidence(st.file, st.where, f"{text}: {st.describe()}")


def _identity(
    analyser: evidence_aws.AwsAnalyser,
    entity: evidence_aws.Entity,
    used: dict[str, tuple[Any, str, Evidence]],
) -> Identity:
    record = entity.record
    tags = aws_tags(record)
    identity = Identity(
        external_id=entity.arn,
        name=entity.name,
        kind="aws",
        type=entity.kind,
        created=parse_date(record.get("CreateDate")),
        owner_hint=owner_from(tags),
        where=Evidence(entity.file, entity.where, f"{entity.kind} {entity.arn}"),
    )
    if entity.kind == "role":
        last = record.get("RoleLastUsed") or {}
        day = parse_date(last.get("LastUsedDate")) if isinstance(last, dict) else None
        if day:
            region = last.get("Region")
            identity.last_used = day
            identity.last_used_from = f"RoleLastUsed{f' in {region}' if region else ''}"
    else:
        day = parse_date(record.get("PasswordLastUsed"))
        report = used.get(entity.arn)
        if report and report[0] and (day is None or report[0] > day):
            identity.last_used, identity.last_used_from = report[0], report[1]
        elif day:
            identity.last_used, identity.last_used_from = day, "PasswordLastUsed"
        keys = used.get(entity.arn + "#keys")
        if keys:
            identity.details["active_access_keys"] = keys[0]
    grant = analyser.grant(entity)
    allow = [st for st in grant.statements if st.effect == "Allow"]
    identity.grants = [
        [st.effect, list(st.action_text), list(st.resource_text), st.conditional]
        for st in grant.statements
    ]
    if entity.kind == "role":
        identity.grants.append(["trust", str(record.get("AssumeRolePolicyDocument"))])
    identity.details["grant_complete"] = grant.complete

    d = data()
    # model_access and the AgentCore tools: named actions of the model services only.
    model_services = d.lower("aws_model_services")
    identity.signal(
        "model_access", _named(grant, allow, d.list("aws_model_actions"), model_services)
    )
    identity.signal("tool_reach", _named(grant, allow, d.list("aws_tool_actions"), model_services))
    identity.signal("tool_reach", _broad_writes(allow, int(d.raw.get("broad_write_services", 3))))
    identity.signal("delegates", _delegates(grant, entity))
    # The assume-role chain (every role it may become, and theirs) is followed for the
    # identities it can make agent-like; for the others the direct rules are enough to
    # show the signal, and a 10,000-role account is not walked 10,000 times.
    identity.signal("declared_agent", declared(tags, entity.file, entity.where, "tag"))
    candidate = bool(identity.signals.get("model_access") or identity.signals.get("declared_agent"))
    altered = analyser.alters(entity, grant) if candidate else analyser.direct_alters(entity, grant)
    if altered:
        identity.signal("alters_own_access", altered[1])
        identity.details["alters_rule"] = altered[0]
    return identity


def _named(
    grant: evidence_aws.Grant,
    allow: list[evidence_aws.Statement],
    actions: Sequence[str],
    services: frozenset[str],
) -> list[Evidence]:
    found = []
    for st in allow:
        if st.actions is None:  # NotAction never names a service
            continue
        for pattern in st.action_text:
            service = pattern.split(":", 1)[0].lower()
            if service not in services:
                continue
            hits = [
                a
                for a in actions
                if a.split(":", 1)[0].lower() == service
                and fnmatch.fnmatchcase(a.lower(), pattern.lower())
                and grant.allows_somewhere(a.lower())
            ]
            if hits:
                found.append(_says(st, f"{pattern} allows {', '.join(hits)}"))
    return found


@functools.lru_cache(maxsize=8192)
def _first_write(pattern: str) -> tuple[str, str] | None:
    """The first action ``pattern`` allows that writes, with its level, or None."""
    cat = catalog()
    for action in cat.expand(pattern):
        access = ACCESS_BY_LEVEL.get(cat.level(action) or "")
        if access in ("write", "admin"):
            return action, access
    return None


def _broad_writes(allow: list[evidence_aws.Statement], threshold: int) -> list[Evidence]:
    """Write or admin access to ``threshold`` services or more, named or through ``*``."""
    services: dict[str, Evidence] = {}
    for st in allow:
        if st.actions is None:
            continue
        for pattern in st.action_text:
            if pattern == "*" or pattern.startswith("*:"):
                return [_says(st, "every action of every service")]
            service = pattern.split(":", 1)[0].lower()
            if service in services:
                continue
            found = _first_write(pattern.lower())
            if found:
                services[service] = _says(st, f"{found[0]} ({found[1]}) on {service}")
    return list(services.values()) if len(services) >= threshold else []


def _delegates(grant: evidence_aws.Grant, entity: evidence_aws.Entity) -> list[Evidence]:
    found = []
    for st in grant.allows_somewhere("sts:assumerole"):
        others = [r for r in st.resource_text if r != entity.arn]
        if others and not st.uses_not_resource:
            found.append(_says(st, f"sts:AssumeRole into {', '.join(others)}"))
    for st in grant.allows_somewhere("lambda:invokefunction"):
        broad = [r for r in st.resource_text if r.endswith("*")]
        if broad:
            found.append(_says(st, f"lambda:InvokeFunction on {', '.join(broad)}"))
    for action in ("states:StartExecution", "states:StartSyncExecution"):
        for st in grant.allows_somewhere(action.lower()):
            found.append(_says(st, action))
    return found
