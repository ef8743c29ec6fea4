"""AWS roles as teams keep them: CloudFormation templates and Terraform plans.

Both are turned into the shape of ``aws iam get-account-authorization-details``
(``RoleDetailList``, ``UserDetailList``, ``GroupDetailList``, ``Policies``) so that one
evaluator reads them all. Each record and policy carries where it came from in the
template (``__where__``), so evidence points at ``Resources.Planner.Properties…`` or
``aws_iam_role_policy.planner``, not at a list the user never wrote. Each role and
user also carries the names a ``--principal`` may use (``__names__``): its logical
name or resource address, and its name.

Nothing is evaluated: intrinsic functions are read as values. ``Ref`` to a
parameter takes its ``Default``; ``Ref``/``Fn::GetAtt`` to an IAM resource of the
same template names it; ``Fn::Sub`` substitutes what it can; what cannot be known
(an import, a parameter without default, an attribute of another service's resource)
reads as ``*`` in a Resource, which can only make a proposal broader, never hide one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .common import as_list

UNKNOWN = "*"
CFN_TYPES = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::User",
        "AWS::IAM::Group",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::UserPolicy",
        "AWS::IAM::GroupPolicy",
        "AWS::IAM::InstanceProfile",
    }
)
TF_TYPES = frozenset(
    {
        "aws_iam_role",
        "aws_iam_user",
        "aws_iam_group",
        "aws_iam_policy",
        "aws_iam_role_policy",
        "aws_iam_user_policy",
        "aws_iam_group_policy",
        "aws_iam_role_policy_attachment",
        "aws_iam_user_policy_attachment",
        "aws_iam_group_policy_attachment",
        "aws_iam_policy_attachment",
        "aws_iam_instance_profile",
        "aws_iam_user_group_membership",
        "aws_iam_group_membership",
    }
)
SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def is_cloudformation(doc: Any) -> bool:
    resources = doc.get("Resources") if isinstance(doc, dict) else None
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and str(r.get("Type", "")).startswith("AWS::")
        for r in resources.values()
    )


def is_terraform_plan(doc: Any) -> bool:
    return isinstance(doc, dict) and "format_version" in doc and "planned_values" in doc


class _Account:
    """The authorization-details shape being built, with lookups by template name."""

    def __init__(self, account: str):
        self.account = account
        self.roles: dict[str, dict[str, Any]] = {}  # template key -> record
        self.users: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.by_name: dict[str, dict[str, Any]] = {}  # role/user/group name -> record

    def arn(self, kind: str, name: str, path: str = "/") -> str:
        path = path if path.startswith("/") and path.endswith("/") else "/"
        return f"arn:aws:iam::{self.account}:{kind}{path}{name}"

    def entity(self, kind: str, key: str, name: str, path: str, where: str) -> dict[str, Any]:
        store = {"role": self.roles, "user": self.users, "group": self.groups}[kind]
        label = kind.title()
        record: dict[str, Any] = {
            f"{label}Name": name,
            "Arn": self.arn(kind, name, path),
            f"{label}PolicyList": [],
            "AttachedManagedPolicies": [],
            "__where__": where,
            "__names__": sorted({key, name}),
        }
        if kind == "user":
            record["GroupList"] = []
        store[key] = record
        self.by_name[f"{kind}:{name}"] = record
        self.by_name[f"{kind}:{key}"] = record
        return record

    def policy(self, key: str, name: str, document: Any, where: str) -> str:
        arn = f"arn:aws:iam::{self.account}:policy/{name}"
        self.policies[key] = {
            "PolicyName": name,
            "Arn": arn,
            "DefaultVersionId": "v1",
            "PolicyVersionList": [
                {"Document": document, "VersionId": "v1", "IsDefaultVersion": True}
            ],
            "__where__": where,
        }
        return arn

    def attach(self, kind: str, target: str, arn: str) -> None:
        record = self.by_name.get(f"{kind}:{target}")
        if record is not None:
            name = arn.rsplit("/", 1)[-1]
            record["AttachedManagedPolicies"].append({"PolicyArn": arn, "PolicyName": name})

    def inline(self, kind: str, target: str, name: str, document: Any, where: str) -> None:
        record = self.by_name.get(f"{kind}:{target}")
        if record is not None:
            record[f"{kind.title()}PolicyList"].append(
                {"PolicyName": name, "PolicyDocument": document, "__where__": where}
            )

    def result(self) -> dict[str, Any]:
        return {
            "RoleDetailList": list(self.roles.values()),
            "UserDetailList": list(self.users.values()),
            "GroupDetailList": list(self.groups.values()),
            "Policies": list(self.policies.values()),
        }


# --------------------------------------------------------------------------- CloudFormation


def from_cloudformation(doc: dict[str, Any], account: str) -> dict[str, Any]:
    """A template's IAM resources as an authorization-details document."""
    resources = {k: v for k, v in doc["Resources"].items() if isinstance(v, dict)}
    parameters = doc.get("Parameters") if isinstance(doc.get("Parameters"), dict) else {}
    out = _Account(account)
    names: dict[str, str] = {}  # logical id -> physical name (Ref value)

    def value(v: Any) -> Any:
        """A template value with intrinsic functions read, never run."""
        if isinstance(v, list):
            return [value(i) for i in v]
        if not isinstance(v, dict):
            return v
        if len(v) != 1:
            return {k: value(i) for k, i in v.items()}
        ((fn, arg),) = v.items()
        if fn == "Ref":
            return ref(str(arg))
        if fn == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            logical = str(parts[0]) if parts else ""
            attribute = str(parts[1]) if len(parts) > 1 else ""
            found = resources.get(logical, {})
            kind = _cfn_kind(found.get("Type"))
            if kind and attribute == "Arn":
                return out.arn(kind, names.get(logical, logical), _path(found))
            return UNKNOWN
        if fn == "Fn::Sub":
            text, extra = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
            extra = extra if isinstance(extra, dict) else {}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in extra:
                    got = value(extra[name])
                    return got if isinstance(got, str) else UNKNOWN
                got = value({"Fn::GetAtt": name}) if "." in name else ref(name)
                return got if isinstance(got, str) else UNKNOWN

            return SUB_VARIABLE.sub(substitute, str(text))
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            parts = value(arg[1])
            if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
                return str(arg[0]).join(parts)
            return UNKNOWN
        if fn.startswith("Fn::") or fn == "Condition":
            return UNKNOWN
        return {fn: value(arg)}

    def ref(name: str) -> str:
        pseudo = {
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::Region": UNKNOWN,
            "AWS::StackName": UNKNOWN,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in names:
            resource = resources[name]
            if resource.get("Type") == "AWS::IAM::ManagedPolicy":
                return f"arn:aws:iam::{account}:policy/{names[name]}"
            return names[name]
        param = parameters.get(name)
        if isinstance(param, dict) and isinstance(param.get("Default"), str | int):
            return str(param["Default"])
        return UNKNOWN

    # Physical names first: a Ref anywhere may name any IAM resource.
    for logical, resource in resources.items():
        kind = resource.get("Type")
        props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
        field = {
            "AWS::IAM::Role": "RoleName",
            "AWS::IAM::User": "UserName",
            "AWS::IAM::Group": "GroupName",
            "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
            "AWS::IAM::InstanceProfile": "InstanceProfileName",
        }.get(str(kind))
        if field:
            names[logical] = logical
            given = value(props.get(field))  # !Sub "planner-${Env}" -> planner-prod
            if isinstance(given, str) and given and UNKNOWN not in given:
                names[logical] = given

    profiles: list[tuple[str, dict[str, Any]]] = []
    for logical, resource in resources.items():
        kind = str(resource.get("Type"))
        if kind not in CFN_TYPES:
            continue
        props = value(resource.get("Properties") or {})
        props = props if isinstance(props, dict) else {}
        where = f"Resources.{logical}"
        entity_kind = _cfn_kind(kind)
        if entity_kind in ("role", "user", "group"):
            record = out.entity(entity_kind, logical, names[logical], _path(resource), where)
            if entity_kind == "role":
                record["AssumeRolePolicyDocument"] = props.get("AssumeRolePolicyDocument")
                record["__trust_where__"] = f"{where}.Properties.AssumeRolePolicyDocument"
                record["InstanceProfileList"] = []
            for index, item in enumerate(as_list(props.get("Policies"))):
                if isinstance(item, dict):
                    out.inline(
                        entity_kind,
                        logical,
                        str(item.get("PolicyName", index)),
                        item.get("PolicyDocument"),
                        f"{where}.Properties.Policies[{index}].PolicyDocument",
                    )
            for arn in as_list(props.get("ManagedPolicyArns")):
                out.attach(entity_kind, logical, str(arn))
            boundary = props.get("PermissionsBoundary")
            if isinstance(boundary, str):
                record["PermissionsBoundary"] = {"PermissionsBoundaryArn": boundary}
            if entity_kind == "user":
                record["GroupList"] = [str(g) for g in as_list(props.get("Groups"))]
        elif kind == "AWS::IAM::InstanceProfile":
            profiles.append((logical, props))
    for logical, resource in resources.items():
        kind = str(resource.get("Type"))
        props = value(resource.get("Properties") or {})
        props = props if isinstance(props, dict) else {}
        where = f"Resources.{logical}.Properties.PolicyDocument"
        if kind == "AWS::IAM::ManagedPolicy":
            arn = out.policy(logical, names[logical], props.get("PolicyDocument"), where)
            for target_kind, field in (("role", "Roles"), ("user", "Users"), ("group", "Groups")):
                for target in as_list(props.get(field)):
                    out.attach(target_kind, str(target), arn)
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            name = str(props.get("PolicyName", logical))
            targets = [("role", t) for t in as_list(props.get("Roles"))]
            targets += [("role", props["RoleName"])] if "RoleName" in props else []
            targets += [("user", t) for t in as_list(props.get("Users"))]
            targets += [("group", t) for t in as_list(props.get("Groups"))]
            for target_kind, target in targets:
                out.inline(target_kind, str(target), name, props.get("PolicyDocument"), where)
        elif kind in ("AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy"):
            target_kind = "user" if kind.endswith("UserPolicy") else "group"
            target = props.get("UserName") or props.get("GroupName")
            out.inline(
                target_kind,
                str(target),
                str(props.get("PolicyName", logical)),
                props.get("PolicyDocument"),
                where,
            )
    for logical, props in profiles:
        for role in as_list(props.get("Roles")):
            record = out.by_name.get(f"role:{role}")
            if record is not None:
                record["InstanceProfileList"].append({"InstanceProfileName": names[logical]})
    return out.result()


def _cfn_kind(kind: Any) -> str | None:
    return {
        "AWS::IAM::Role": "role",
        "AWS::IAM::User": "user",
        "AWS::IAM::Group": "group",
        "AWS::IAM::ManagedPolicy": "policy",
    }.get(str(kind))


def _path(resource: dict[str, Any]) -> str:
    props = resource.get("Properties")
    path = props.get("Path") if isinstance(props, dict) else None
    return path if isinstance(path, str) else "/"


# --------------------------------------------------------------------------- Terraform


def from_terraform_plan(doc: dict[str, Any], account: str) -> dict[str, Any]:
    """A plan's (``terraform show -json``) IAM resources as an authorization-details
    document. Values unknown until apply are followed through the configuration's
    references (``aws_iam_policy.x.arn`` -> that policy)."""
    resources: list[dict[str, Any]] = []

    def walk(module: Any) -> None:
        if not isinstance(module, dict):
            return
        resources.extend(r for r in as_list(module.get("resources")) if isinstance(r, dict))
        for child in as_list(module.get("child_modules")):
            walk(child)

    walk((doc.get("planned_values") or {}).get("root_module"))
    references = _tf_references(doc.get("configuration"))
    out = _Account(account)
    by_address = {str(r.get("address")): r for r in resources}
    names: dict[str, str] = {}
    for address, resource in by_address.items():
        values = resource.get("values") if isinstance(resource.get("values"), dict) else {}
        if resource.get("type") in ("aws_iam_role", "aws_iam_user", "aws_iam_group"):
            names[address] = str(values.get("name") or resource.get("name"))

    def target(address: str, field: str, values: dict[str, Any]) -> list[str]:
        """Names in ``field``, or the resources the configuration points it at."""
        given = values.get(field)
        if given:
            return [str(g) for g in as_list(given)]
        found = []
        for ref in references.get(_config_address(address), {}).get(field, []):
            ref_address = ref.rsplit(".", 1)[0] if ref.count(".") > 1 else ref
            for candidate, resource in by_address.items():
                if _config_address(candidate) == ref_address:
                    if field.endswith("arn") and resource.get("type") == "aws_iam_policy":
                        found.append(f"arn:aws:iam::{account}:policy/{_tf_policy_name(resource)}")
                    elif candidate in names:
                        found.append(names[candidate])
        return found

    for address, resource in by_address.items():
        kind = resource.get("type")
        values = resource.get("values") if isinstance(resource.get("values"), dict) else {}
        if kind in ("aws_iam_role", "aws_iam_user", "aws_iam_group"):
            entity_kind = str(kind).removeprefix("aws_iam_")
            record = out.entity(
                entity_kind, address, names[address], str(values.get("path") or "/"), address
            )
            if entity_kind == "role":
                record["AssumeRolePolicyDocument"] = _json(values.get("assume_role_policy"))
                record["__trust_where__"] = f"{address}.assume_role_policy"
                record["InstanceProfileList"] = []
                for index, item in enumerate(as_list(values.get("inline_policy"))):
                    if isinstance(item, dict) and item.get("policy"):
                        out.inline(
                            "role",
                            address,
                            str(item.get("name") or index),
                            _json(item["policy"]),
                            f"{address}.inline_policy[{index}]",
                        )
                for arn in as_list(values.get("managed_policy_arns")):
                    out.attach("role", address, str(arn))
            if values.get("permissions_boundary"):
                record["PermissionsBoundary"] = {
                    "PermissionsBoundaryArn": str(values["permissions_boundary"])
                }
    for address, resource in by_address.items():
        kind = str(resource.get("type"))
        values = resource.get("values") if isinstance(resource.get("values"), dict) else {}
        if kind == "aws_iam_policy":
            out.policy(address, _tf_policy_name(resource), _json(values.get("policy")), address)
        elif kind in ("aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"):
            entity_kind = kind.removeprefix("aws_iam_").removesuffix("_policy")
            for name in target(address, entity_kind, values):
                out.inline(
                    entity_kind,
                    name,
                    str(values.get("name") or resource.get("name")),
                    _json(values.get("policy")),
                    f"{address}.policy",
                )
        elif kind.endswith("_policy_attachment"):
            arns = target(address, "policy_arn", values)
            if kind == "aws_iam_policy_attachment":
                pairs = [
                    (k, f) for k, f in (("role", "roles"), ("user", "users"), ("group", "groups"))
                ]
            else:
                entity_kind = kind.removeprefix("aws_iam_").removesuffix("_policy_attachment")
                pairs = [(entity_kind, entity_kind)]
            for entity_kind, field in pairs:
                for name in target(address, field, values):
                    for arn in arns:
                        out.attach(entity_kind, name, arn)
        elif kind == "aws_iam_instance_profile":
            for name in target(address, "role", values):
                record = out.by_name.get(f"role:{name}")
                if record is not None:
                    record["InstanceProfileList"].append(
                        {"InstanceProfileName": str(values.get("name") or resource.get("name"))}
                    )
        elif kind == "aws_iam_user_group_membership":
            for user in target(address, "user", values):
                record = out.by_name.get(f"user:{user}")
                if record is not None:
                    record["GroupList"].extend(target(address, "groups", values))
    return out.result()


def _tf_policy_name(resource: dict[str, Any]) -> str:
    values = resource.get("values") if isinstance(resource.get("values"), dict) else {}
    return str(values.get("name") or resource.get("name"))


def _config_address(address: str) -> str:
    """``module.a.aws_iam_role.x[0]`` -> ``module.a.aws_iam_role.x``."""
    return re.sub(r"\[[^\]]*\]", "", address)


def _tf_references(configuration: Any) -> dict[str, dict[str, list[str]]]:
    """address -> field -> the addresses its expression refers to."""
    found: dict[str, dict[str, list[str]]] = {}

    def walk(module: Any, prefix: str) -> None:
        if not isinstance(module, dict):
            return
        for resource in as_list(module.get("resources")):
            if not isinstance(resource, dict):
                continue
            fields: dict[str, list[str]] = {}
            for field, expression in (resource.get("expressions") or {}).items():
                refs = expression.get("references") if isinstance(expression, dict) else None
                if isinstance(refs, list):
                    fields[field] = [str(r) for r in refs]
            found[prefix + str(resource.get("address"))] = fields
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, dict):
                walk(call.get("module"), f"{prefix}module.{name}.")

    if isinstance(configuration, dict):
        walk(configuration.get("root_module"), "")
    return found


def _json(value: Any) -> Any:
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
