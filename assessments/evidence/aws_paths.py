"""The AWS rules: altering one's own access, assuming roles, and every path to more access."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from .aws_actions import ACCESS_BY_LEVEL
from .aws_model import (
    ANY,
    ASSUME,
    COMPUTE_CREATE,
    COMPUTE_TAKEOVER,
    CREDENTIAL_WRITES,
    GROUP_WRITES,
    INSTANCE_COMMANDS,
    POLICY_VERSION_WRITES,
    PROFILE_SWAPS,
    REMOVALS,
    REPLACE_BOUNDARY,
    ROLE_SELF_WRITES,
    SELF_CREDENTIAL_WRITES,
    USER_SELF_WRITES,
    Entity,
    Grant,
    Limit,
    Statement,
    _named,
    _plain,
    _profiles,
    _says,
    _short_actions,
    _step,
    _trust_says,
)
from .aws_reading import AccountReader
from .common import (
    Evidence,
    as_list,
)


class AwsAnalyser(AccountReader):
    """The rules over an account: what a principal may alter, assume and reach, and the
    paths to more access (removing its limits, acting as a stronger identity)."""

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
