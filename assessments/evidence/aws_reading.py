"""Reading an AWS account from the files, and what IAM grants each principal."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

from . import aws_templates
from .aws_actions import ActionCatalog, catalog
from .aws_model import (
    ACCOUNT_KEYS,
    ARN,
    TEMPLATE_ACCOUNT,
    Account,
    Entity,
    Exact,
    Grant,
    Limit,
    Statement,
    _action_regex,
    _condition_text,
    _join,
    _never_holds,
    _plain_resource,
    _policy_document,
    _records,
    _trust_statement,
)
from .common import (
    Evidence,
    EvidenceError,
    EvidenceFile,
    PrincipalNotFound,
    as_list,
    glob_regex,
)


class AccountReader:
    """Reads the files into an account (roles, users, groups, policies, keys) and
    evaluates what a principal is granted, its trust policies and its limits."""

    def __init__(
        self,
        files: Sequence[EvidenceFile],
        principal: str | None,
        *,
        now: dt.datetime | None = None,
    ):
        self.files = files
        if not principal:
            raise PrincipalNotFound(
                "", "aws", [f.name for f in files], "Give --principal: a role or user ARN."
            )
        match = ARN.fullmatch(principal)
        self.principal = principal
        # Templates name no account: their roles take the principal's, or a stand-in.
        self.account_id = match["account"] if match else TEMPLATE_ACCOUNT
        self.now = now or dt.datetime.now(dt.UTC)
        self.account = Account()
        self.loose: list[tuple[dict[str, Any], str, str, str]] = []  # doc, file, where, name
        self.access_keys: dict[str, list[Evidence]] = {}  # user name -> keys seen
        self.ignored: list[Evidence] = []  # Allows whose condition can never hold now
        for file in files:
            for position, document in enumerate(file.documents):
                self._read_document(file.name, document, position, len(file.documents))
        if not match and not self.account.files:
            raise PrincipalNotFound(
                principal,
                "aws",
                [f.name for f in files],
                "An AWS principal is a role or user ARN, e.g. arn:aws:iam::123456789012:role/NAME "
                "(or, for a CloudFormation template or Terraform plan, the role's logical name "
                "or resource address).",
            )
        self._grants: dict[str, Grant] = {}
        self._trust: dict[str, list[Statement]] = {}
        self._trusted_by: dict[str, list[tuple[Entity, Statement]]] | None = None
        self._systems: dict[int, tuple[Grant, list[dict[str, str]], list[Evidence]]] = {}
        # A managed policy's statements, read once for every role or user it is attached
        # to (10,000 roles share a few hundred policies), unless they use policy variables.
        self._managed_statements: dict[tuple[str, str], list[Statement]] = {}
        self._resolved_variables = False

    @property
    def catalog(self) -> ActionCatalog:
        """Loaded on first use, so a refused file or principal costs no database load."""
        return catalog()

    # ------------------------------------------------------------------ reading

    def _read_document(self, file: str, doc: Any, position: int, count: int) -> None:
        prefix = f"[{position}]" if count > 1 else ""
        if isinstance(doc, dict) and any(k in doc for k in ACCOUNT_KEYS):
            self._read_account(file, doc, prefix)
            return
        if aws_templates.is_cloudformation(doc):
            self._read_account(file, aws_templates.from_cloudformation(doc, self.account_id), "")
            return
        if aws_templates.is_terraform_plan(doc):
            self._read_account(file, aws_templates.from_terraform_plan(doc, self.account_id), "")
            return
        if (
            isinstance(doc, dict)
            and isinstance(doc.get("Content"), str)
            and ("csv" in str(doc.get("ReportFormat", "")).lower())
        ):
            self._read_credential_report(file, doc["Content"], prefix)
            return
        if isinstance(doc, dict) and isinstance(doc.get("AccessKeyMetadata"), list):
            for index, key in enumerate(doc["AccessKeyMetadata"]):
                if isinstance(key, dict) and key.get("Status", "Active") == "Active":
                    user = str(key.get("UserName", ""))
                    self.access_keys.setdefault(user, []).append(
                        Evidence(
                            file,
                            f"{prefix}AccessKeyMetadata[{index}]",
                            f"active access key {key.get('AccessKeyId', '?')} of user {user}",
                        )
                    )
            return
        docs = doc if isinstance(doc, list) else [doc]
        for index, item in enumerate(docs):
            where = f"{prefix}[{index}]" if isinstance(doc, list) else prefix
            policy = _policy_document(item)
            if policy is None:
                raise EvidenceError(
                    file,
                    "not an AWS account authorization-details file (UserDetailList, "
                    "GroupDetailList, RoleDetailList, Policies), IAM policy document "
                    "(Version, Statement), CloudFormation template (Resources), Terraform plan "
                    "(terraform show -json) or access key list (AccessKeyMetadata)",
                )
            name = item.get("PolicyName") if isinstance(item, dict) else None
            self.loose.append((policy, file, where, name or f"the policy in {file}"))

    def _read_credential_report(self, file: str, content: str, prefix: str) -> None:
        """``aws iam get-credential-report``: base64 CSV, one row per user; an active
        access key is a long-lived secret of that user."""
        try:
            text = base64.b64decode(content, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise EvidenceError(file, "the credential report's Content is not base64 CSV") from None
        for index, row in enumerate(csv.DictReader(io.StringIO(text))):
            for n in ("1", "2"):
                if str(row.get(f"access_key_{n}_active", "")).lower() == "true":
                    user = str(row.get("user", ""))
                    self.access_keys.setdefault(user, []).append(
                        Evidence(
                            file,
                            f"{prefix}Content, row {index + 2}",
                            f"credential report: user {user} has active access key {n}"
                            f" (last rotated {row.get(f'access_key_{n}_last_rotated', '?')})",
                        )
                    )

    def _read_account(self, file: str, doc: dict[str, Any], prefix: str) -> None:
        self.account.files.append(file)
        for key, kind, store in (
            ("RoleDetailList", "role", self.account.roles),
            ("UserDetailList", "user", self.account.users),
        ):
            for index, record in enumerate(_records(file, doc, key)):
                arn = record.get("Arn")
                if not isinstance(arn, str):
                    raise EvidenceError(file, f"{prefix}{key}[{index}] has no Arn")
                found = ARN.fullmatch(arn)
                store[arn] = Entity(
                    arn=arn,
                    kind=kind,
                    name=str(record.get(f"{kind.title()}Name") or (found and found["name"])),
                    account=found["account"] if found else self.account_id,
                    record=record,
                    file=file,
                    where=str(record.get("__where__") or f"{prefix}{key}[{index}]"),
                    unique_id=str(record.get("RoleId") or record.get("UserId") or ""),
                    names=tuple(str(n) for n in as_list(record.get("__names__"))),
                )
        for index, record in enumerate(_records(file, doc, "GroupDetailList")):
            name = record.get("GroupName")
            if isinstance(name, str):
                where = str(record.get("__where__") or f"{prefix}GroupDetailList[{index}]")
                self.account.groups[name] = (record, file, where)
        for index, record in enumerate(_records(file, doc, "Policies")):
            arn = record.get("Arn")
            if isinstance(arn, str):
                where = str(record.get("__where__") or f"{prefix}Policies[{index}]")
                self.account.policies[arn] = (record, file, where)

    def _statements(
        self, doc: Any, file: str, where: str, policy: str, entity: Entity
    ) -> list[Statement]:
        if isinstance(doc, str):
            try:
                doc = json.loads(urllib.parse.unquote(doc))
            except ValueError:
                raise EvidenceError(file, f"{where}: the policy document is not JSON") from None
        if not isinstance(doc, dict):
            raise EvidenceError(file, f"{where}: the policy document is not an object")
        raw = doc.get("Statement")
        single = isinstance(raw, dict)
        result = []
        for index, st in enumerate(as_list(raw)):
            here = _join(where, "Statement" if single else f"Statement[{index}]")
            if not isinstance(st, dict):
                raise EvidenceError(file, f"{here}: a statement must be an object")
            effect = st.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise EvidenceError(file, f"{here}: Effect must be Allow or Deny")
            actions = [str(a) for a in as_list(st.get("Action"))]
            not_actions = [str(a) for a in as_list(st.get("NotAction"))]
            resources = [str(r) for r in as_list(st.get("Resource"))]
            not_resources = [str(r) for r in as_list(st.get("NotResource"))]
            if not actions and not not_actions:
                continue
            condition = st.get("Condition")
            if effect == "Allow" and condition and _never_holds(condition, self.now):
                self.ignored.append(
                    Evidence(
                        file,
                        here,
                        f"not counted: Allow {', '.join(actions or not_actions)} in {policy} "
                        f"only when {_condition_text(condition)}, which can no longer hold",
                    )
                )
                continue
            result.append(
                Statement(
                    effect=effect,
                    actions=_action_regex(actions) if actions else None,
                    not_actions=_action_regex(not_actions) if not actions else None,
                    action_text=tuple(actions or not_actions),
                    resources=tuple(self._resource_regex(r, entity) for r in resources),
                    not_resources=tuple(self._resource_regex(r, entity) for r in not_resources),
                    resource_text=tuple(resources if resources else not_resources) or ("*",),
                    uses_not_resource=not resources and bool(not_resources),
                    conditional=bool(condition),
                    file=file,
                    where=here,
                    policy=policy,
                    condition_text=_condition_text(condition) if condition else "",
                )
            )
        return result

    def _resource_regex(self, pattern: str, entity: Entity) -> re.Pattern[str] | Exact:
        """A Resource glob with the principal's policy variables resolved."""
        if "${" not in pattern:
            return _plain_resource(pattern)
        self._resolved_variables = True
        parts = []
        for piece in re.split(r"(\$\{[^}]*\})", pattern):
            if not (piece.startswith("${") and piece.endswith("}")):
                parts.append(glob_regex(piece).pattern)
                continue
            name = piece[2:-1].split(",")[0].strip().lower()
            if name in ("*", "?", "$"):
                parts.append(re.escape(name))
            elif name == "aws:username" and entity.kind == "user":
                parts.append(re.escape(entity.name))
            elif name == "aws:userid" and entity.kind == "user" and entity.unique_id:
                parts.append(re.escape(entity.unique_id))
            elif name == "aws:userid" and entity.kind == "role" and entity.unique_id:
                # ROLEID:session-name, and the caller chooses the session name.
                parts.append(re.escape(entity.unique_id) + ":.*")
            elif name == "aws:principalaccount":
                parts.append(re.escape(entity.account))
            elif name == "aws:principaltype":
                parts.append("User" if entity.kind == "user" else "AssumedRole")
            else:
                parts.append("(?!)")  # absent from the request: the element cannot match
        return re.compile("".join(parts), re.DOTALL)

    # ------------------------------------------------------------------ grants

    def find_principal(self) -> Entity:
        entity = self.account.roles.get(self.principal) or self.account.users.get(self.principal)
        if entity is not None:
            return entity
        # A template's role by its logical name or address, or by its name in an ARN.
        match = ARN.fullmatch(self.principal)
        for candidate in [*self.account.roles.values(), *self.account.users.values()]:
            if not candidate.names:
                continue
            if self.principal in candidate.names or (
                match and match["type"] == candidate.kind and match["name"] == candidate.name
            ):
                return candidate
        if self.account.files or not self.loose:
            raise PrincipalNotFound(
                self.principal,
                "aws",
                [f.name for f in self.files],
                "No role or user in the files has that ARN (or, in a template or plan, that "
                "logical name or address)."
                if match
                else "An AWS principal is a role or user ARN, e.g. "
                "arn:aws:iam::123456789012:role/NAME, or a template's logical name or address.",
            )
        match = ARN.fullmatch(self.principal)
        return Entity(
            arn=self.principal,
            kind=match["type"] if match else "role",
            name=match["name"] if match else self.principal,
            account=self.account_id,
            record={},
            file=self.loose[0][1],
            where="",
        )

    def grant(self, entity: Entity, *, with_loose: bool = False) -> Grant:
        key = entity.arn + ("+loose" if with_loose else "")
        if key in self._grants:
            return self._grants[key]
        grant = Grant()
        record = entity.record
        if not record:
            grant.complete = False
        if entity.record:
            inline_key = "RolePolicyList" if entity.kind == "role" else "UserPolicyList"
            self._inline(grant, entity, record, inline_key, entity.where, entity.file, own=True)
            self._managed(grant, entity, record, entity.where, entity.file, own=True)
            self._boundary(grant, entity)
            if entity.kind == "user":
                for group_name in as_list(record.get("GroupList")):
                    grant.groups.append(str(group_name))
                    found = self.account.groups.get(str(group_name))
                    if found is None:
                        grant.complete = False
                        grant.missing.append(f"group {group_name}")
                        continue
                    group, file, where = found
                    self._inline(grant, entity, group, "GroupPolicyList", where, file)
                    self._managed(grant, entity, group, where, file)
        if with_loose:
            for doc, file, where, name in self.loose:
                grant.statements.extend(self._statements(doc, file, where, name, entity))
                grant.read.append(Evidence(file, where or "(document)", f"read {name}"))
        self._grants[key] = grant
        return grant

    def _inline(
        self,
        grant: Grant,
        entity: Entity,
        record: dict,
        key: str,
        where: str,
        file: str,
        *,
        own: bool = False,
    ) -> None:
        for index, item in enumerate(as_list(record.get(key))):
            if not isinstance(item, dict):
                continue
            name = f"inline policy {item.get('PolicyName', index)}"
            here = str(item.get("__where__") or f"{where}.{key}[{index}]")
            statements = self._statements(item.get("PolicyDocument"), file, here, name, entity)
            grant.statements.extend(statements)
            grant.read.append(Evidence(file, here, f"read {name}"))
            if own and any(st.effect == "Deny" for st in statements):
                grant.limits.append(
                    Limit("inline", str(item.get("PolicyName", index)), "", statements, file, here)
                )

    def _boundary(self, grant: Grant, entity: Entity) -> None:
        boundary = entity.record.get("PermissionsBoundary")
        arn = boundary.get("PermissionsBoundaryArn") if isinstance(boundary, dict) else None
        if not isinstance(arn, str):
            return
        found = self._default_version(arn)
        if found is None:  # a boundary only narrows: without it the grant reads wider
            return
        policy, pfile, here, version = found
        name = f"permissions boundary {policy.get('PolicyName', arn)}"
        grant.boundary = self._statements(version.get("Document"), pfile, here, name, entity)
        grant.boundary_name = name
        grant.limits.append(Limit("boundary", name, arn, [], pfile, here))
        grant.read.append(Evidence(pfile, here, f"read {name}, the default version"))

    def _default_version(self, arn: str) -> tuple[dict, str, str, dict] | None:
        found = self.account.policies.get(arn)
        if found is None:
            return None
        policy, pfile, pwhere = found
        default_id = policy.get("DefaultVersionId")
        for index, version in enumerate(as_list(policy.get("PolicyVersionList"))):
            if isinstance(version, dict) and (
                version.get("IsDefaultVersion") is True
                or (default_id and version.get("VersionId") == default_id)
            ):
                here = (
                    str(policy["__where__"])
                    if policy.get("__where__")
                    else f"{pwhere}.PolicyVersionList[{index}]"
                )
                return policy, pfile, here, version
        return None

    def _managed(
        self,
        grant: Grant,
        entity: Entity,
        record: dict,
        where: str,
        file: str,
        *,
        own: bool = False,
    ) -> None:
        for item in as_list(record.get("AttachedManagedPolicies")):
            if not isinstance(item, dict) or not isinstance(item.get("PolicyArn"), str):
                continue
            arn = item["PolicyArn"]
            grant.attached_policies.append(arn)
            found = self.account.policies.get(arn)
            if found is None:
                grant.complete = False
                grant.missing.append(f"managed policy {arn}")
                continue
            chosen = self._default_version(arn)
            if chosen is None:
                grant.complete = False
                grant.missing.append(f"the default version of {arn}")
                continue
            policy, pfile, here, version = chosen
            name = f"managed policy {policy.get('PolicyName', arn)} ({version.get('VersionId')})"
            statements = self._managed_statements.get((arn, here))  # type: ignore[assignment]
            if statements is None:
                self._resolved_variables = False
                statements = self._statements(version.get("Document"), pfile, here, name, entity)
                if not self._resolved_variables:
                    self._managed_statements[arn, here] = statements
            grant.statements.extend(statements)
            grant.read.append(Evidence(pfile, here, f"read {name}, the default version"))
            if own and any(st.effect == "Deny" for st in statements):
                grant.limits.append(
                    Limit(
                        "managed", str(policy.get("PolicyName", arn)), arn, statements, pfile, here
                    )
                )

    def trust(self, role: Entity) -> list[Statement]:
        if role.arn not in self._trust:
            doc = role.record.get("AssumeRolePolicyDocument")
            statements: list[Statement] = []
            if doc is not None:
                if isinstance(doc, str):
                    try:
                        doc = json.loads(urllib.parse.unquote(doc))
                    except ValueError:
                        doc = None
                for index, st in enumerate(as_list((doc or {}).get("Statement"))):
                    if isinstance(st, dict):
                        statements.append(_trust_statement(st, role, index))
            self._trust[role.arn] = statements
        return self._trust[role.arn]

    def trusts(self, role: Entity, caller: Entity, *, by_arn: bool = False) -> Statement | None:
        """The trust statement that lets ``caller`` assume ``role``, if any; with
        ``by_arn``, only one naming the caller itself (which needs no permission policy
        in the same account)."""
        allowed = None
        names = (
            {caller.arn}
            if by_arn
            else {caller.arn, f"arn:aws:iam::{caller.account}:root", caller.account, "*"}
        )
        for st in self.trust(role):
            if not st.matches_action("sts:assumerole"):
                continue
            if not names & set(st.resource_text):
                continue
            if st.effect == "Deny" and not st.conditional:
                return None
            if st.effect == "Allow":
                allowed = allowed or st
        return allowed
