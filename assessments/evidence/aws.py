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

import base64
import csv
import datetime as dt
import functools
import io
import json
import re
import urllib.parse
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import aws_templates
from .aws_actions import ACCESS_BY_LEVEL, ActionCatalog, catalog
from .common import (
    Evidence,
    EvidenceError,
    EvidenceFile,
    PrincipalNotFound,
    Proposals,
    as_list,
    glob_regex,
)

ACCOUNT_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
ARN = re.compile(
    r"arn:aws[-a-z]*:iam::(?P<account>\d{12}):(?P<type>role|user)/(?:.*/)?(?P<name>[^/]+)"
)
ANY = "\u2063any"  # a name no real IAM entity has: matched only by wildcards covering all

ROLE_SELF_WRITES = ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy")
USER_SELF_WRITES = ("iam:PutUserPolicy", "iam:AttachUserPolicy")
GROUP_WRITES = ("iam:PutGroupPolicy", "iam:AttachGroupPolicy")
POLICY_VERSION_WRITES = ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion")
CREDENTIAL_WRITES = ("iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile")
# New long-lived credentials that only ever belong to the caller's own user.
SELF_CREDENTIAL_WRITES = ("iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey")
# What removes a limit: (inline Deny, attached Deny, boundary) removal actions by kind.
REMOVALS = {
    "role": ("iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePermissionsBoundary"),
    "user": ("iam:DeleteUserPolicy", "iam:DetachUserPolicy", "iam:DeleteUserPermissionsBoundary"),
}
REPLACE_BOUNDARY = {
    "role": "iam:PutRolePermissionsBoundary",
    "user": "iam:PutUserPermissionsBoundary",
}
# Changing running compute runs code as its role: action -> the service that role trusts.
COMPUTE_TAKEOVER = (
    ("lambda:UpdateFunctionCode", "lambda.amazonaws.com", "the function's code"),
    ("lambda:UpdateFunctionConfiguration", "lambda.amazonaws.com", "the function's configuration"),
    ("glue:UpdateDevEndpoint", "glue.amazonaws.com", "the development endpoint's keys"),
    ("codebuild:StartBuild", "codebuild.amazonaws.com", "a build with its own buildspec"),
    ("codebuild:StartBuildBatch", "codebuild.amazonaws.com", "a build with its own buildspec"),
    ("codebuild:UpdateProject", "codebuild.amazonaws.com", "the build project"),
)
# Running commands on an instance runs them as the instance profile's role.
INSTANCE_COMMANDS = (
    "ssm:SendCommand",
    "ssm:StartSession",
    "ec2-instance-connect:SendSSHPublicKey",
    "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
)
# With iam:PassRole, these put a role on an instance that already runs.
PROFILE_SWAPS = (
    "ec2:AssociateIamInstanceProfile",
    "ec2:ReplaceIamInstanceProfileAssociation",
    "iam:AddRoleToInstanceProfile",
)
DATE_KEYS = frozenset({"aws:tokenissuetime", "aws:currenttime"})
EPOCH_KEYS = frozenset({"aws:epochtime"})
CONDITION_WORDS = {
    "StringEquals": "is",
    "StringEqualsIgnoreCase": "is",
    "StringLike": "matches",
    "StringNotEquals": "is not",
    "StringNotLike": "does not match",
    "ArnEquals": "is",
    "ArnLike": "matches",
    "ArnNotEquals": "is not",
    "ArnNotLike": "does not match",
    "IpAddress": "is in",
    "NotIpAddress": "is not in",
    "Bool": "is",
    "Null": "is absent:",
    "NumericEquals": "is",
    "NumericLessThan": "is below",
    "NumericGreaterThan": "is above",
    "DateLessThan": "is before",
    "DateGreaterThan": "is after",
}
# Actions that start compute which runs with a role passed to it.
COMPUTE_CREATE = (
    "lambda:CreateFunction",
    "lambda:UpdateFunctionConfiguration",
    "ec2:RunInstances",
    "ec2:AssociateIamInstanceProfile",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "ecs:RunTask",
    "ecs:RegisterTaskDefinition",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateTrainingJob",
    "codebuild:CreateProject",
    "datapipeline:CreatePipeline",
)
SECRET_READS = (
    "secretsmanager:GetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
)
ASSUME = "sts:AssumeRole"
# The account of roles read from a template when the principal is not an ARN.
TEMPLATE_ACCOUNT = "000000000000"
STEP = re.compile(r"^Step \d+: ")


@dataclass(slots=True)
class Statement:
    effect: str
    actions: ActionMatcher | None  # Action; None when NotAction is used
    not_actions: ActionMatcher | None
    action_text: tuple[str, ...]
    resources: tuple[re.Pattern[str] | Exact, ...]
    not_resources: tuple[re.Pattern[str] | Exact, ...]
    resource_text: tuple[str, ...]
    uses_not_resource: bool
    conditional: bool
    file: str
    where: str
    policy: str
    condition_text: str = ""

    def matches_action(self, action: str) -> bool:
        if self.actions is not None:
            return self.actions.matches(action)
        return self.not_actions is not None and not self.not_actions.matches(action)

    def matches_resource(self, resource: str) -> bool:
        if self.uses_not_resource:
            return not any(p.fullmatch(resource) for p in self.not_resources)
        return any(p.fullmatch(resource) for p in self.resources)

    def covers_all_resources(self) -> bool:
        return not self.uses_not_resource and "*" in self.resource_text

    def describe(self) -> str:
        word = "Action" if self.actions is not None else "NotAction"
        where = "NotResource" if self.uses_not_resource else "Resource"
        if self.condition_text:
            cond = f" (only when {self.condition_text})"
        else:
            cond = " (with a condition)" if self.conditional else ""
        return (
            f"{self.effect} {word} {', '.join(self.action_text)} {where} "
            f"{', '.join(self.resource_text)} in {self.policy}{cond}"
        )


@dataclass(slots=True)
class Entity:
    """A role or user from an account file, or the principal of bare policy documents."""

    arn: str
    kind: str  # role | user
    name: str
    account: str
    record: dict[str, Any]
    file: str
    where: str
    unique_id: str = ""
    names: tuple[str, ...] = ()  # a template's logical name or address, and the name


@dataclass(slots=True)
class Grant:
    statements: list[Statement] = field(default_factory=list)
    complete: bool = True
    read: list[Evidence] = field(default_factory=list)  # what was read, for a "false"
    missing: list[str] = field(default_factory=list)
    attached_policies: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    # The permissions boundary's statements (None: no boundary, or not in the files).
    boundary: list[Statement] | None = None
    boundary_name: str = ""
    # Policies that carry a Deny: (removal kind, name, where it is attached, statements).
    limits: list[Limit] = field(default_factory=list)

    _by_action: dict[str, list[Statement]] = field(default_factory=dict)

    def _boundary_allows(self, action: str, resource: str | None) -> bool:
        if self.boundary is None:
            return True
        allowed = False
        for st in self.boundary:
            if not st.matches_action(action):
                continue
            if resource is not None and not st.matches_resource(resource):
                continue
            if st.effect == "Deny":
                if not st.conditional and (resource is not None or st.covers_all_resources()):
                    return False
            else:
                allowed = True
        return allowed

    def for_action(self, action: str) -> list[Statement]:
        """The statements (Allow and Deny) that name ``action`` (lower case)."""
        found = self._by_action.get(action)
        if found is None:
            found = [st for st in self.statements if st.matches_action(action)]
            self._by_action[action] = found
        return found

    def allows(self, action: str, resource: str) -> list[Statement]:
        """Allow statements for ``action`` on ``resource``, empty when a Deny wins."""
        allowing = []
        for st in self.for_action(action):
            if not st.matches_resource(resource):
                continue
            if st.effect == "Deny":
                if not st.conditional:
                    return []
            else:
                allowing.append(st)
        if allowing and not self._boundary_allows(action, resource):
            return []
        return allowing

    def allows_somewhere(self, action: str) -> list[Statement]:
        """Allow statements for ``action`` on some resource, unless denied on all of them."""
        allowing = []
        for st in self.for_action(action):
            if st.effect == "Deny":
                if not st.conditional and st.covers_all_resources():
                    return []
            else:
                allowing.append(st)
        if allowing and not self._boundary_allows(action, None):
            return []
        return allowing

    def without(self, limit: Limit) -> Grant:
        """The grant once ``limit`` is removed (its statements, or the boundary)."""
        removed = {id(st) for st in limit.statements}
        return Grant(
            statements=[st for st in self.statements if id(st) not in removed],
            complete=self.complete,
            read=self.read,
            missing=self.missing,
            attached_policies=[a for a in self.attached_policies if a != limit.arn],
            groups=self.groups,
            boundary=None if limit.kind == "boundary" else self.boundary,
            boundary_name="" if limit.kind == "boundary" else self.boundary_name,
            limits=[x for x in self.limits if x is not limit],
        )


@dataclass(slots=True, eq=False)
class Limit:
    """A policy that carries a Deny for the principal, or its permissions boundary."""

    kind: str  # inline | managed | boundary
    name: str
    arn: str  # the managed policy's or boundary's ARN; "" for inline
    statements: list[Statement]
    file: str
    where: str


@dataclass(slots=True)
class Account:
    roles: dict[str, Entity] = field(default_factory=dict)
    users: dict[str, Entity] = field(default_factory=dict)
    groups: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    policies: dict[str, tuple[dict[str, Any], str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


class AwsAnalyser:
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

    # ------------------------------------------------------------------ rules

    def direct_alters(self, entity: Entity, grant: Grant) -> tuple[str, list[Evidence]] | None:
        """The first rule by which ``entity`` can widen its own access, with evidence."""
        writes = ROLE_SELF_WRITES if entity.kind == "role" else USER_SELF_WRITES
        found = self._on(grant, writes, [entity.arn])
        if entity.kind == "user":
            groups = [self._group_arn(entity, name) for name in grant.groups]
            found += self._on(grant, GROUP_WRITES, groups)
            found += self._on(
                grant,
                ("iam:AddUserToGroup",),
                [self._group_arn(entity, g) for g in self.account.groups]
                + [self._group_arn(entity, ANY)],
            )
        if found:
            return "aws.self_policy_write", found
        found = self._on(grant, POLICY_VERSION_WRITES, grant.attached_policies)
        if found:
            return "aws.policy_version_write", found
        users = [u.arn for u in self.account.users.values()]
        users.append(f"arn:aws:iam::{entity.account}:user/{ANY}")
        if entity.kind == "user":
            users.insert(0, entity.arn)
        found = self._on(grant, CREDENTIAL_WRITES, users)
        if entity.kind == "user":
            found += self._on(grant, SELF_CREDENTIAL_WRITES, [entity.arn])
        if found:
            return "aws.credential_creation", found
        passrole = grant.allows_somewhere("iam:passrole")
        if passrole:
            for action in COMPUTE_CREATE:
                compute = grant.allows_somewhere(action.lower())
                if compute:
                    passable = [
                        r.name
                        for r in _named(grant, "iam:passrole", self.account.roles)
                        if r.arn != entity.arn and grant.allows("iam:passrole", r.arn)
                    ]
                    roles = (
                        f"roles in the files it may pass: {', '.join(passable[:5])}"
                        + (f" and {len(passable) - 5} more" if len(passable) > 5 else "")
                        if passable
                        else "the roles it may pass: their grants are not in the files"
                    )
                    return "aws.passrole_compute", [
                        _step(1, _says(passrole[0], "iam:PassRole", None, who=entity)),
                        _step(2, _says(compute[0], action, None, who=entity)),
                        _step(
                            3,
                            Evidence(
                                passrole[0].file,
                                passrole[0].where,
                                f"the new compute runs as the role passed to it, so {entity.name} "
                                f"acts as that role ({roles})",
                            ),
                        ),
                    ]
        return None

    def _on(self, grant: Grant, actions: Iterable[str], targets: Sequence[str]) -> list[Evidence]:
        found = []
        for action in actions:
            if not any(st.effect == "Allow" for st in grant.for_action(action.lower())):
                continue
            for target in targets:
                allowing = grant.allows(action.lower(), target)
                if allowing:
                    found.append(_says(allowing[0], action, target))
                    break
        return found

    def _group_arn(self, entity: Entity, name: str) -> str:
        found = self.account.groups.get(name)
        if found and isinstance(found[0].get("Arn"), str):
            return str(found[0]["Arn"])
        return f"arn:aws:iam::{entity.account}:group/{name}"

    def assumable(self, entity: Entity, grant: Grant) -> list[tuple[Entity, Evidence]]:
        """Roles in the files that ``entity`` may assume: by its permission policy and
        their trust, or by their trust alone when it names ``entity``'s ARN in the same
        account (IAM then needs no permission policy)."""
        result = []
        seen: set[str] = set()
        if grant.allows_somewhere("sts:assumerole"):
            for role in _named(grant, "sts:assumerole", self.account.roles):
                if role.arn == entity.arn:
                    continue
                allowing = grant.allows("sts:assumerole", role.arn)
                if allowing and self.trusts(role, entity) is not None:
                    seen.add(role.arn)
                    result.append((role, _says(allowing[0], ASSUME, role.arn, who=entity)))
        for role, st in self.trusted_by_arn(entity):
            if role.arn not in seen:
                result.append((role, _trust_says(st, entity, role)))
        return result

    def trusted_by_arn(self, entity: Entity) -> list[tuple[Entity, Statement]]:
        """Roles of the same account whose trust policy names ``entity`` by its ARN."""
        if self._trusted_by is None:
            index: dict[str, list[tuple[Entity, Statement]]] = {}
            for role in self.account.roles.values():
                for st in self.trust(role):
                    if st.effect != "Allow" or not st.matches_action("sts:assumerole"):
                        continue
                    for name in st.resource_text:
                        if name.startswith("arn:"):
                            index.setdefault(name, []).append((role, st))
            self._trusted_by = index
        found = []
        for role, _st in self._trusted_by.get(entity.arn, []):
            if role.arn == entity.arn or role.account != entity.account:
                continue
            allowed = self.trusts(role, entity, by_arn=True)
            if allowed is not None:
                found.append((role, allowed))
        return found

    # ------------------------------------------------------------------ paths (v2)

    def stronger(
        self, other: Entity, than: Entity, than_grant: Grant
    ) -> tuple[bool, list[Evidence]]:
        """Whether ``other`` is more privileged than ``than`` (an alters-own-access grant,
        or an admin system ``than`` lacks), with what it holds; (True, [note]) when its
        grants are not in the files."""
        if not other.record:
            return True, [
                Evidence(other.file, other.where, f"{other.name}: its grants are not in the files")
            ]
        grant = self.grant(other)
        found = self.direct_alters(other, grant)
        if found:
            return True, [_plain(e, f"{other.name} holds: ") for e in found[1]]
        mine = {s["name"] for s in self.systems(than_grant)[0] if s["access"] == "admin"}
        theirs, evidence = self.systems(grant)
        extra = [
            _plain(e, f"{other.name} holds admin access to {s['name']}: ")
            for s, e in zip(theirs, evidence, strict=True)
            if s["access"] == "admin" and s["name"] not in mine
        ]
        if extra:
            return True, extra[:3]
        if not grant.complete:
            missing = ", ".join(grant.missing[:3])
            return True, [
                Evidence(
                    other.file,
                    other.where,
                    f"{other.name}: not all of its grants are in the files (missing {missing})",
                )
            ]
        return False, []

    def removals(self, entity: Entity, grant: Grant) -> list[Evidence] | None:
        """A path through removing what limits ``entity``: a policy carrying a Deny, or
        its permissions boundary, where its grants allow the removal and what remains
        grants more."""
        if entity.kind not in REMOVALS:
            return None
        delete_inline, detach, delete_boundary = REMOVALS[entity.kind]
        for limit in grant.limits:
            if limit.kind == "boundary":
                actions = [delete_boundary, REPLACE_BOUNDARY[entity.kind]]
            else:
                actions = [delete_inline if limit.kind == "inline" else detach]
            for action in actions:
                allowing = grant.allows(action.lower(), entity.arn)
                if not allowing:
                    continue
                remaining = grant.without(limit)
                gained = self._gained(grant, remaining, limit)
                found = self.direct_alters(entity, remaining)
                if not gained and not found:
                    continue
                what = {
                    "inline": f"deletes its inline policy {limit.name}",
                    "managed": f"detaches managed policy {limit.name} from itself",
                    "boundary": (
                        f"removes its {limit.name}"
                        if action == delete_boundary
                        else f"replaces its {limit.name} with one of its choosing"
                    ),
                }[limit.kind]
                denies = [st for st in limit.statements if st.effect == "Deny"]
                limit_says = (
                    f"that {what}, whose Deny ({_short_actions(denies[0])}) limits it"
                    if denies
                    else f"that {what}, which limits what its policies allow"
                )
                steps = [
                    _step(1, _says(allowing[0], action, entity.arn, who=entity)),
                    _step(2, Evidence(limit.file, limit.where, limit_says)),
                ]
                if found:
                    steps += [_step(3, _plain(e, "what remains allows: ")) for e in found[1][:3]]
                else:
                    steps += [_step(3, _plain(e, "what remains allows: ")) for e in gained[:3]]
                return steps
        return None

    def _gained(self, before: Grant, after: Grant, limit: Limit) -> list[Evidence]:
        """Actions the limit denied (or the boundary withheld) that ``after`` allows."""
        gained: list[Evidence] = []
        if limit.kind == "boundary":
            for st in after.statements:
                if st.effect != "Allow":
                    continue
                for action in self._actions_of(st)[:2000]:
                    lowered = action.lower()
                    if not before.allows_somewhere(lowered) and after.allows_somewhere(lowered):
                        gained.append(_says(st, action, None))
                        break
                if len(gained) >= 3:
                    break
            return gained
        for st in limit.statements:
            if st.effect != "Deny":
                continue
            for action in self._actions_of(st):
                allowing = after.allows_somewhere(action.lower())
                if allowing:
                    gained.append(_says(allowing[0], action, None))
                    if len(gained) >= 3:
                        return gained
        return gained

    def act_as(self, entity: Entity, grant: Grant) -> tuple[str, list[Evidence]] | None:
        """A path through acting as a more privileged identity: changing compute that
        runs as another role, running commands on an instance with a profile, putting a
        role on an instance, or assuming a role that trusts it by ARN."""
        roles = list(self.account.roles.values())
        in_files = bool(self.account.files)
        for action, service, what in COMPUTE_TAKEOVER:
            allowing = grant.allows_somewhere(action.lower())
            if not allowing:
                continue
            targets = [
                (r, st)
                for r in roles
                if r.arn != entity.arn
                for st in [self._trusts_service(r, service)]
                if st is not None
            ]
            path = self._first_stronger(
                entity,
                grant,
                targets,
                _step(1, _says(allowing[0], action, None, who=entity)),
                lambda r, st, what=what, service=service: Evidence(
                    st.file,
                    st.where,
                    f"changing {what} runs code as role {r.name}, which trusts {service}",
                ),
                in_files,
                f"compute that runs as another role ({service}); those roles' grants are not "
                "in the files",
            )
            if path:
                return "aws.compute_takeover", path
        for action in INSTANCE_COMMANDS:
            allowing = grant.allows_somewhere(action.lower())
            if not allowing:
                continue
            targets = [
                (r, r)
                for r in roles
                if r.arn != entity.arn and as_list(r.record.get("InstanceProfileList"))
            ]
            path = self._first_stronger(
                entity,
                grant,
                targets,
                _step(1, _says(allowing[0], action, None, who=entity)),
                lambda r, _x: Evidence(
                    r.file,
                    r.where,
                    f"commands on an instance run as its profile's role {r.name} "
                    f"(instance profile {_profiles(r)})",
                ),
                in_files,
                "instances with an instance profile; their roles' grants are not in the files",
            )
            if path:
                return "aws.instance_command", path
        passrole = grant.allows_somewhere("iam:passrole")
        if passrole:
            for action in PROFILE_SWAPS:
                allowing = grant.allows_somewhere(action.lower())
                if not allowing:
                    continue
                targets = []
                for r in roles:
                    if r.arn == entity.arn:
                        continue
                    passing = grant.allows("iam:passrole", r.arn)
                    if passing and self._trusts_service(r, "ec2.amazonaws.com") is not None:
                        targets.append((r, passing[0]))
                path = self._first_stronger(
                    entity,
                    grant,
                    targets,
                    _step(1, _says(allowing[0], action, None, who=entity)),
                    lambda r, st: _plain(
                        _says(st, "iam:PassRole", r.arn),
                        f"and passes role {r.name} to an instance it reaches: ",
                    ),
                    in_files,
                    "an instance it can reach; the roles' grants are not in the files",
                )
                if path:
                    return "aws.instance_profile_swap", path
        for role, st in self.trusted_by_arn(entity):
            if grant.allows_somewhere("sts:assumerole") and grant.allows(
                "sts:assumerole", role.arn
            ):
                continue  # a permission-policy assume: the assume-role rules cover it
            stronger, holds = self.stronger(role, entity, grant)
            if stronger:
                return "aws.trusted_by_arn", [
                    _step(1, _trust_says(st, entity, role)),
                    *[_step(2, e) for e in holds],
                ]
        return None

    def _first_stronger(
        self,
        entity: Entity,
        grant: Grant,
        targets: list[tuple[Entity, Any]],
        first: Evidence,
        second: Any,
        in_files: bool,
        unknown: str,
    ) -> list[Evidence] | None:
        for role, extra in targets:
            stronger, holds = self.stronger(role, entity, grant)
            if stronger:
                return [first, _step(2, second(role, extra)), *[_step(3, e) for e in holds]]
        if not in_files:
            return [
                first,
                _step(2, Evidence(first.file, first.where, f"that reaches {unknown}")),
            ]
        return None

    def _trusts_service(self, role: Entity, service: str) -> Statement | None:
        for st in self.trust(role):
            if st.effect == "Allow" and service in st.resource_text:
                return st
        return None

    def alters(self, principal: Entity, grant: Grant) -> tuple[str, list[Evidence]] | None:
        direct = self.direct_alters(principal, grant)
        if direct:
            return direct
        removal = self.removals(principal, grant)
        if removal:
            return "aws.remove_limit", removal
        acting = self.act_as(principal, grant)
        if acting:
            return acting
        # Breadth first through the roles it can become, shortest chain first.
        seen = {principal.arn}
        queue: deque[tuple[Entity, list[Evidence]]] = deque()
        for role, step in self.assumable(principal, grant):
            seen.add(role.arn)
            queue.append((role, [step]))
        while queue:
            role, path = queue.popleft()
            role_grant = self.grant(role)
            found = self.direct_alters(role, role_grant)
            if found:
                steps = [_step(n, e) for n, e in enumerate(path, 1)]
                holds = [_plain(e, f"{role.name} holds: ") for e in found[1]]
                return "aws.assume_role_chain", [*steps, *[_step(len(path) + 1, e) for e in holds]]
            for nxt, step in self.assumable(role, role_grant):
                if nxt.arn not in seen:
                    seen.add(nxt.arn)
                    queue.append((nxt, [*path, step]))
        return None

    def systems(self, grant: Grant) -> tuple[list[dict[str, str]], list[Evidence]]:
        cached = self._systems.get(id(grant))
        if cached is None or cached[0] is not grant:
            cached = (grant, *self._compute_systems(grant))
            self._systems[id(grant)] = cached
        return cached[1], cached[2]

    def _compute_systems(self, grant: Grant) -> tuple[list[dict[str, str]], list[Evidence]]:
        rank = {"read": 1, "write": 2, "admin": 3}
        best: dict[str, tuple[str, str, Statement]] = {}
        denied_everywhere = [
            st
            for st in grant.statements
            if st.effect == "Deny" and not st.conditional and st.covers_all_resources()
        ]
        for st in grant.statements:
            if st.effect != "Allow":
                continue
            for action in self._actions_of(st):
                lowered = action.lower()
                if any(d.matches_action(lowered) for d in denied_everywhere):
                    continue
                if grant.boundary is not None and not grant._boundary_allows(lowered, None):
                    continue
                level = self.catalog.level(action)
                access = ACCESS_BY_LEVEL.get(level or "")
                if access is None:
                    continue
                service = action.split(":", 1)[0]
                current = best.get(service)
                if current is None or rank[access] > rank[current[0]]:
                    best[service] = (access, action, st)
        systems = [{"name": s, "access": best[s][0]} for s in sorted(best)]
        evidence = [
            _says(best[s][2], best[s][1], None, level=self.catalog.level(best[s][1]))
            for s in sorted(best)
        ]
        return systems, evidence

    def _actions_of(self, st: Statement) -> tuple[str, ...]:
        if st.actions is not None:
            return tuple(a for pattern in st.action_text for a in self.catalog.expand(pattern))
        return tuple(a for a in self.catalog.expand("*") if st.matches_action(a.lower()))


def _join(where: str, part: str) -> str:
    return f"{where}.{part}" if where else part


def _trust_statement(st: dict[str, Any], role: Entity, index: int) -> Statement:
    base = str(role.record.get("__trust_where__") or f"{role.where}.AssumeRolePolicyDocument")
    principal = st.get("Principal")
    names: list[str] = []
    if principal == "*":
        names = ["*"]
    elif isinstance(principal, dict):
        for value in principal.values():
            names.extend(str(v) for v in as_list(value))
    actions = [str(a) for a in as_list(st.get("Action"))] or ["*"]
    return Statement(
        effect=str(st.get("Effect")),
        actions=_action_regex(actions),
        not_actions=None,
        action_text=tuple(actions),
        resources=(),
        not_resources=(),
        resource_text=tuple(names),  # the trusted principals
        uses_not_resource=False,
        conditional=bool(st.get("Condition")),
        file=role.file,
        where=f"{base}.Statement[{index}]",
        policy="the trust policy",
    )


def _records(file: str, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise EvidenceError(file, f"{key} must be a list")
    return [v for v in value if isinstance(v, dict)]


def _policy_document(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    if "Statement" in item:
        return item
    if isinstance(item.get("PolicyDocument"), dict | str):  # get-role-policy output
        return item["PolicyDocument"]
    version = item.get("PolicyVersion")  # get-policy-version output
    if isinstance(version, dict) and "Document" in version:
        return version["Document"]
    return None


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """Action patterns: exact names by set lookup, wildcards by (shared, cached) regex."""

    exact: frozenset[str]
    wildcards: tuple[re.Pattern[str], ...]

    def matches(self, action: str) -> bool:
        """``action`` is lower case."""
        return action in self.exact or any(w.fullmatch(action) for w in self.wildcards)


@functools.lru_cache(maxsize=8192)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


def _action_regex(patterns: Sequence[str]) -> ActionMatcher:
    return _matcher(tuple(patterns))


@functools.lru_cache(maxsize=65536)
def _matcher(patterns: tuple[str, ...]) -> ActionMatcher:
    """Shared (the matcher is frozen): an account file repeats the same action lists."""
    lowered = [p.lower() for p in patterns]
    return ActionMatcher(
        exact=frozenset(p for p in lowered if "*" not in p and "?" not in p),
        wildcards=tuple(_wildcard(p) for p in lowered if "*" in p or "?" in p),
    )


class Exact:
    """A Resource without wildcards, compared as a string: an account file names
    thousands of distinct ARNs, and compiling a regex for each took most of its reading
    (``bench/discovery.py``)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text

    def fullmatch(self, value: str) -> bool:
        return value == self.text


@functools.lru_cache(maxsize=65536)
def _plain_resource(pattern: str) -> re.Pattern[str] | Exact:
    if "*" not in pattern and "?" not in pattern:
        return Exact(pattern)
    return glob_regex(pattern)


def _named(grant: Grant, action: str, entities: dict[str, Entity]) -> Iterable[Entity]:
    """The entities (by ARN, in their order) that an Allow of ``action`` may name: every
    one when a statement has a wildcard or NotResource, else only those its Resources
    name, looked up rather than each tested (200 agents x 10,000 roles). The caller
    still asks ``grant.allows`` of each, for Deny and boundaries."""
    names: set[str] = set()
    for st in grant.for_action(action):
        if st.effect != "Allow":
            continue
        if st.uses_not_resource or any(p.__class__ is not Exact for p in st.resources):
            return entities.values()
        names.update(p.text for p in st.resources)  # type: ignore[union-attr]
    if len(names) * 4 > len(entities):
        return [e for arn, e in entities.items() if arn in names]
    order = {arn: i for i, arn in enumerate(entities)} if names else {}
    return sorted((entities[n] for n in names if n in entities), key=lambda e: order[e.arn])


def _says(
    st: Statement,
    action: str,
    target: str | None,
    level: str | None = None,
    *,
    who: Entity | None = None,
) -> Evidence:
    on = f" on {target.replace(ANY, '*')}" if target else ""
    level_text = f" ({level})" if level else ""
    subject = f"{who.name} may call " if who is not None else ""
    return Evidence(st.file, st.where, f"{subject}{action}{level_text}{on}: {st.describe()}")


def _step(number: int, evidence: Evidence) -> Evidence:
    """One step of a path, numbered so that a reviewer can follow it in order."""
    return Evidence(evidence.file, evidence.where, f"Step {number}: {STEP.sub('', evidence.says)}")


def _plain(evidence: Evidence, prefix: str) -> Evidence:
    return Evidence(evidence.file, evidence.where, prefix + STEP.sub("", evidence.says))


def _trust_says(st: Statement, caller: Entity, role: Entity) -> Evidence:
    how = "names it by ARN" if caller.arn in st.resource_text else "trusts it"
    return Evidence(
        st.file,
        st.where,
        f"{caller.name} may assume role {role.name}: its trust policy {how}"
        + (f" (only when {st.condition_text})" if st.condition_text else ""),
    )


def _short_actions(st: Statement) -> str:
    shown = ", ".join(st.action_text[:4])
    more = f" and {len(st.action_text) - 4} more" if len(st.action_text) > 4 else ""
    word = "" if st.actions is not None else "everything but "
    return f"{word}{shown}{more}"


def _profiles(role: Entity) -> str:
    return ", ".join(
        str(p.get("InstanceProfileName"))
        for p in as_list(role.record.get("InstanceProfileList"))
        if isinstance(p, dict)
    )


def _condition_text(condition: Any) -> str:
    """A Condition as a reviewer reads it: "aws:SourceIp is in 10.0.0.0/8"."""
    if not isinstance(condition, dict):
        return str(condition)
    parts = []
    for operator, tests in condition.items():
        base = str(operator).removesuffix("IfExists")
        for prefix in ("ForAnyValue:", "ForAllValues:"):
            base = base.removeprefix(prefix)
        word = CONDITION_WORDS.get(base, base)
        if not isinstance(tests, dict):
            parts.append(f"{operator} {tests}")
            continue
        for key, values in tests.items():
            shown = ", ".join(str(v) for v in as_list(values))
            parts.append(f"{key} {word} {shown}")
    return " and ".join(parts)


def _never_holds(condition: Any, now: dt.datetime) -> bool:
    """An Allow's condition that no request can meet any more: an upper time bound
    (aws:CurrentTime, aws:TokenIssueTime, aws:EpochTime) in the past."""
    if not isinstance(condition, dict):
        return False
    for operator, tests in condition.items():
        if not isinstance(tests, dict) or str(operator).endswith("IfExists"):
            continue
        for key, values in tests.items():
            key = str(key).lower()
            if (
                key in DATE_KEYS
                and operator in ("DateLessThan", "DateLessThanEquals", "DateEquals")
                or key in EPOCH_KEYS
                and operator
                in (
                    "NumericLessThan",
                    "NumericLessThanEquals",
                    "NumericEquals",
                    "DateLessThan",
                    "DateLessThanEquals",
                )
            ):
                limits = [_instant(v) for v in as_list(values)]
            else:
                continue
            if limits and all(limit is not None and limit < now for limit in limits):
                return True
    return False


def _instant(value: Any) -> dt.datetime | None:
    text = str(value).strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text), dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def analyse(
    files: Sequence[EvidenceFile], principal: str | None, *, now: dt.datetime | None = None
) -> tuple[Any, ...]:
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
    return out.result()


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
