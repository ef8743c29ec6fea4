"""Import agents from a CSV with the inventory export's columns.

``plan_csv`` reads the file and works out, row by row, what applying it would change
(create, update, retire, reactivate, or nothing) with the site's own form checks; a
row with an error blocks the whole import. ``apply_plan`` then makes every change
through the inventory actions in one transaction: all rows or none. Exporting the
inventory and importing the file unchanged changes nothing; an edited export changes
exactly the edited cells. Columns the inventory computes (classification, tier, flags,
gaps, review dates, …) are read only to be ignored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest

from assessments import actions
from assessments.access import scope
from assessments.forms import bound_agent_forms, initial_links
from assessments.interchange import owners
from assessments.models import (
    Agent,
    AgentLink,
    Assessment,
    AuditEvent,
    Environment,
    Review,
    System,
    Team,
)
from assessments.portfolio import planner
from assessments.reports.exports import (
    FORMULA_STARTS,
    INVENTORY_COLUMNS,
    INVENTORY_HEADER,
    INVENTORY_KEYS,
)

User = get_user_model()
REQUIRED = ("slug", "name", "team", "purpose")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
# What an import writes, whose planner statistics it refreshes (assessments/portfolio/planner.py).
IMPORTED_TABLES = (Agent, System, AgentLink, Review, AuditEvent)
LINK_WORDS = (
    ("orchestrated by ", "orchestrated_by"),
    ("orchestrates ", "orchestrates"),
    ("peer of ", "peer"),
)


class ImportError_(ValueError):  # noqa: N801 (not the builtin ImportError)
    """The file as a whole cannot be read; the message is for the user."""


@dataclass
class RowPlan:
    line: int
    slug: str
    action: str = "unchanged"  # create | update | retire | reactivate | unchanged
    changes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    systems: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    status: str = "active"
    source: str = ""  # the file in a zip of manifests
    manifest: dict[str, Any] | None = None  # manifest_sync's plan, for a manifest row
    ownership: owners.Plan | None = None  # the sponsor and successors the row names


@dataclass
class ImportPlan:
    rows: list[RowPlan]

    @property
    def ok(self) -> bool:
        return all(not r.errors for r in self.rows)

    @property
    def changing(self) -> list[RowPlan]:
        return [r for r in self.rows if r.action != "unchanged"]

    def fingerprint(self) -> str:
        """What the preview showed, so apply can tell when the inventory moved since."""
        shown = [(r.line, r.source, r.slug, r.action, r.changes, r.errors) for r in self.rows]
        return hashlib.sha256(json.dumps(shown, default=str).encode()).hexdigest()


def _cell(value: str | None) -> str:
    """The export prefixes formula-like cells with an apostrophe; take it off."""
    value = (value or "").strip()
    if value.startswith("'") and value[1:2] and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def read_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    if len(data) > MAX_BYTES:
        raise ImportError_(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportError_(
            f"The file is not UTF-8 text (undecodable byte at offset {exc.start}). Save it "
            "as CSV UTF-8."
        ) from None
    if "\x00" in text:
        raise ImportError_("The file holds NUL characters; it is not a CSV export.")
    reader = csv.DictReader(io.StringIO(text))
    header = [_key(h) for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportError_(
            f"The file has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}. "
            f"Use the columns of the inventory export: {', '.join(INVENTORY_HEADER)}."
        )
    rows = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise ImportError_(f"The file has more than {MAX_ROWS} rows; split it.")
        row = {_key(k): _cell(v if isinstance(v, str) else "") for k, v in raw.items()}
        if any(row.values()):
            rows.append((number, row))
    if not rows:
        raise ImportError_("The file has a header but no rows.")
    return rows


def _key(header: str | None) -> str:
    """A column's key from its header as exported (words) or as a key."""
    name = (header or "").strip()
    return INVENTORY_KEYS.get(name.lower(), name)


def _systems(value: str, errors: list[str]) -> list[dict[str, str]]:
    systems = []
    for part in _split(value):
        name, _, access = part.rpartition(" (")
        access = access.rstrip(")")
        if not name or access not in ("read", "write", "admin"):
            errors.append(f"systems: “{part}” is not “name (read|write|admin)”.")
            continue
        systems.append({"name": name.strip(), "access": access})
    return systems


def _links(value: str, errors: list[str]) -> list[dict[str, str]]:
    links = []
    for part in _split(value):
        for words, kind in LINK_WORDS:
            if part.lower().startswith(words):
                links.append({"kind": kind, "other": part[len(words) :].strip().lower()})
                break
        else:
            errors.append(
                f"linked_agents: “{part}” is not “orchestrates SLUG”, “orchestrated by SLUG” "
                "or “peer of SLUG”."
            )
    return links


def _person(user: Any) -> str:
    return f"{user.first_name or ''} {user.last_name or ''}".strip() or user.username


def _owner(row: dict[str, str], agent: Agent | None, errors: list[str]) -> Any:
    name, email = row.get("owner", ""), row.get("owner_email", "")
    if agent is not None and _person(agent.owner) == name and (agent.owner.email or "") == email:
        return agent.owner
    people = User.objects.filter(is_active=True)
    found = people.filter(email__iexact=email).order_by("pk").first() if email else None
    found = found or (people.filter(username=name).first() if name else None)
    if found is None:
        errors.append("owner: no active person has this e-mail (owner_email) or username (owner).")
    return found


def _ownership(
    row: dict[str, str], agent: Agent | None, owner: Any, errors: list[str]
) -> owners.Plan:
    """The row's sponsor and successors. A file without those columns (an older export)
    keeps them; an empty sponsor cell keeps the sponsor (the owner, for a new agent); an
    empty successors cell, when the column is there, means none."""
    sponsor = row.get("sponsor_email") or row.get("sponsor") or None
    if agent is not None and sponsor and _person(agent.sponsor_or_owner) == row.get("sponsor"):
        email = agent.sponsor_or_owner.email or ""
        if email == row.get("sponsor_email", email):
            sponsor = None  # as exported: unchanged, whoever else has the same name
    chain = _split(row["successors"]) if "successors" in row else None
    planned = owners.plan(agent, sponsor=sponsor, successors_=chain, owner=owner)
    errors += [f"{key}: {message}" for key, message in planned.errors]
    return planned


def _team(value: str, errors: list[str]) -> Team | None:
    team = Team.objects.filter(name=value).first() or Team.objects.filter(slug=value).first()
    if team is None:
        errors.append(f"team: no team is called “{value}”.")
    return team


def _out_of_team(user: Any, agent: Agent | None, team: Team | None) -> list[str]:
    """Row errors when team-scoped editing keeps ``user`` from this row (scope.py)."""
    if user is None:
        return []
    if agent is not None and not scope.may_edit(user, agent):
        return [f"team: {agent.slug} belongs to {agent.team}, not one of your teams."]
    if team is not None and not scope.may_edit(user, team):
        return [f"team: {team} is not one of your teams; you import only into yours."]
    return []


def plan_csv(data: bytes, user: Any = None) -> ImportPlan:
    """The import's plan; with ``user``, rows outside their teams are errors when
    editing is team-scoped."""
    rows = read_rows(data)
    slugs = [row.get("slug", "").lower() for _n, row in rows]
    existing = {
        a.slug: a
        for a in Agent.objects.filter(slug__in=slugs)
        .select_related("owner", "sponsor", "team")
        .prefetch_related("systems", "links_out__target", "links_in__source", "co_owners__person")
    }
    plans: list[RowPlan] = []
    seen: set[str] = set()
    for line, row in rows:
        slug = row.get("slug", "").lower()
        plan = RowPlan(line=line, slug=slug)
        plans.append(plan)
        if not slug:
            plan.errors.append("slug: every row needs the agent's slug.")
            continue
        if slug in seen:
            plan.errors.append("slug: this agent has another row above; keep one.")
            continue
        seen.add(slug)
        agent = existing.get(slug)
        errors = plan.errors
        status = (row.get("status") or "active").lower()
        if status not in ("active", "retired"):
            errors.append("status: use active or retired.")
        environments = [e.lower() for e in _split(row.get("environments", ""))]
        unknown = [e for e in environments if e not in Environment.values]
        if unknown:
            errors.append(
                f"environments: {', '.join(unknown)} unknown; use {', '.join(Environment.values)}."
            )
        data_ = {
            "slug": slug,
            "name": row.get("name", ""),
            "purpose": row.get("purpose", ""),
            "platform": row.get("platform", ""),
            "credential_model": row.get("credential_model", ""),
            "environments": environments,
            "owner": _owner(row, agent, errors),
            "team": _team(row.get("team", ""), errors),
            "systems": _systems(row.get("systems", ""), errors),
            "links": _links(row.get("linked_agents", ""), errors),
        }
        errors += _out_of_team(user, agent, data_["team"])
        ownership = _ownership(row, agent, data_["owner"], errors)
        # Snapshot first: binding the form writes the row's values onto the instance.
        before = {name: getattr(agent, name) for name in actions.AGENT_FIELDS} if agent else {}
        form, systems, links, problems = bound_agent_forms(data_, agent, user)
        # Every error of the row, not only the first kind found: the site's own checks
        # too, except where a column's error is already told (an unknown owner is not
        # also "required").
        told = {e.split(":", 1)[0] for e in errors}
        for name, message in problems:
            column = _column_key(name)
            if column in told:
                continue
            errors.append(_form_error(form, name, message, row))
        if errors:
            continue
        plan.fields = {k: v for k, v in form.cleaned_data.items() if k in actions.AGENT_FIELDS}
        plan.systems, plan.links, plan.status = systems.systems(), links.links(), status
        plan.ownership = ownership
        _describe(plan, agent, before)
    _check_links_agree(plans)
    for plan in plans:
        plan.errors[:] = [_labelled(e) for e in plan.errors]
    return ImportPlan(plans)


COLUMN_LABELS = dict(INVENTORY_COLUMNS)
# Form fields (and formset prefixes) by the column they are read from.
_FIELD_COLUMNS = {"links": "linked_agents", "owner": "owner", "": "row"}


def _column_key(name: str) -> str:
    """The column a form error (``credential_model``, ``systems.0.name``) is about."""
    first = name.split(".", 1)[0]
    return _FIELD_COLUMNS.get(first, first)


def _labelled(error: str) -> str:
    """ "credential_model: ..." as "Credential model: ...": the column by its header."""
    key, sep, rest = error.partition(": ")
    if sep and key in COLUMN_LABELS:
        return f"{COLUMN_LABELS[key]}: {rest}"
    return error


def _form_error(form: Any, name: str, message: str, row: dict[str, str]) -> str:
    """A form error about a cell, with the allowed values when the cell must hold one of
    a list (credential model, platform, access levels ...)."""
    column = _column_key(name)
    field_ = form.fields.get(name)
    choices = [
        str(value)
        for value, _label in getattr(field_, "choices", None) or []
        if value not in ("", None)
    ]
    if choices and column not in ("owner", "team") and "valid choice" in message:
        given = row.get(column, "")
        message = f"“{given}” is not one of the allowed values; use one of: {', '.join(choices)}."
    if column == "row":
        return f"Row: {message}"
    return f"{column}: {message}"


def _describe(plan: RowPlan, agent: Agent | None, before: dict[str, Any]) -> None:
    if agent is None:
        plan.action = "create"
        plan.changes.append("new agent")
        if plan.ownership is not None:
            plan.changes += plan.ownership.changes
        if plan.status == "retired":
            plan.errors.append("status: a new agent cannot be imported as retired.")
        return
    changes = plan.changes
    for name in actions.AGENT_FIELDS:
        old, new = before[name], plan.fields[name]
        if hasattr(old, "pk"):
            if old.pk != new.pk:
                changes.append(f"{name}: {old} → {new}")
        elif old != new:
            changes.append(f"{name}: “{old or '—'}” → “{new or '—'}”")
    have = {(s.name.lower(), s.access) for s in agent.systems.all()}
    want = {(s["name"].lower(), s["access"]) for s in plan.systems}
    for name, access in sorted(want - have):
        changes.append(f"system added or changed: {name} ({access})")
    for name, _access in sorted(have - want):
        if name not in {n for n, _ in want}:
            changes.append(f"system removed: {name}")
    have_links = {(r["kind"], r["other"]) for r in initial_links(agent)}
    want_links = {(r["kind"], r["other"]) for r in plan.links}
    changes += [
        f"link added: {k.replace('_', ' ')} {o}" for k, o in sorted(want_links - have_links)
    ]
    changes += [
        f"link removed: {k.replace('_', ' ')} {o}" for k, o in sorted(have_links - want_links)
    ]
    if plan.ownership is not None:
        changes += plan.ownership.changes
    edits = bool(changes)
    if plan.status != agent.status:
        changes.append(f"status: {agent.status} → {plan.status}")
        plan.action = "retire" if plan.status == "retired" else "reactivate"
        if plan.status == "retired" and edits:
            plan.action = "update and retire"
    elif edits:
        plan.action = "update"
        if agent.is_retired:
            plan.errors.append("This agent is retired: reactivate it (status active) to edit it.")


_MIRROR = {"orchestrates": "orchestrated_by", "orchestrated_by": "orchestrates", "peer": "peer"}


def _check_links_agree(plans: list[RowPlan]) -> None:
    """A link between two agents that both have rows must be in both rows, or neither:
    otherwise the later row would undo the earlier one."""
    by_slug = {p.slug: p for p in plans if not p.errors}
    for plan in by_slug.values():
        for link in plan.links:
            other = by_slug.get(link["other"])
            if other is None:
                continue
            mirror = {"kind": _MIRROR[link["kind"]], "other": plan.slug}
            if mirror not in other.links:
                plan.errors.append(
                    f"linked_agents: this row has “{link['kind'].replace('_', ' ')} "
                    f"{link['other']}” but the row of {link['other']} (line {other.line}) "
                    "does not list the link; change both rows."
                )


@transaction.atomic
def apply_plan(actor: Any, plan: ImportPlan, *, request: HttpRequest | None = None) -> int:
    """Make every change of a valid plan, all in one transaction. Returns rows changed."""
    if not plan.ok:
        raise actions.ActionError("The file has errors; nothing was imported.")
    changed = 0
    for row in plan.changing:
        agent = Agent.objects.filter(slug=row.slug).first()
        try:
            if agent is None:
                agent = actions.create_agent(
                    actor, fields=row.fields, systems=row.systems, links=row.links, request=request
                )
            else:
                if row.action == "reactivate" or (agent.is_retired and row.status == "active"):
                    agent = actions.reactivate_agent(actor, agent, request=request)
                if any(_edits_fields(c) for c in row.changes):
                    agent = actions.update_agent(
                        actor,
                        agent,
                        fields=row.fields,
                        systems=row.systems,
                        links=row.links,
                        request=request,
                    )
            if row.ownership is not None and not agent.is_retired:
                owners.apply(actor, agent, row.ownership, request=request)
            if row.status == "retired" and not agent.is_retired:
                actions.retire_agent(actor, agent, request=request)
        except actions.ActionError as error:
            raise actions.ActionError(f"Line {row.line} ({row.slug}): {error}") from error
        changed += 1
    planner.after_bulk_write(changed, IMPORTED_TABLES)
    return changed


def _edits_fields(change: str) -> bool:
    """A change the inventory form makes (not the status, sponsor or successors)."""
    return not change.startswith(("status:", "sponsor:", "successors:"))


# --------------------------------------------------------------------------- zip of manifests

MAX_ZIP_ENTRIES = 500
MAX_UNZIPPED = 20 * 1024 * 1024


def _manifest_files(data: bytes) -> list[tuple[str, bytes]]:
    import zipfile

    from assessments.interchange.manifest import MAX_BYTES as MANIFEST_MAX
    from assessments.interchange.manifest import SUFFIX_FORMATS

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ImportError_("The file is not a zip archive.") from None
    entries = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith(("__MACOSX/", "."))
        and "/." not in info.filename
        and any(info.filename.lower().endswith(s) for s in SUFFIX_FORMATS)
    ]
    if not entries:
        raise ImportError_("The zip holds no .yaml, .yml or .json manifests.")
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ImportError_(f"The zip holds more than {MAX_ZIP_ENTRIES} manifests; split it.")
    if sum(i.file_size for i in entries) > MAX_UNZIPPED:
        raise ImportError_("The zip unpacks to more than 20 MB; that is not a set of manifests.")
    files = []
    for info in sorted(entries, key=lambda i: i.filename):
        if info.file_size > MANIFEST_MAX:
            raise ImportError_(f"{info.filename} is larger than a manifest can be.")
        files.append((info.filename, archive.read(info)))
    return files


def plan_zip(data: bytes, team_slug: str, user: Any = None) -> ImportPlan:
    """Every manifest in a zip, planned as ``POST /api/v1/manifests`` would apply it."""
    from assessments.interchange import manifest_sync
    from assessments.interchange.manifest import (
        ManifestError,
        ManifestErrors,
        check_manifest,
        parse_text,
        resolve_linked_agents,
    )
    from assessments.workflow import decisions

    rows: list[RowPlan] = []
    seen: set[str] = set()
    for name, raw in _manifest_files(data):
        row = RowPlan(line=0, slug="", source=name)
        rows.append(row)
        try:
            text = raw.decode("utf-8-sig")
            parsed = parse_text(text, file=name)
            items = parsed if isinstance(parsed, list) else [parsed]
            if len(items) != 1:
                raise ManifestError(name, "holds a list; put one manifest in each file")
            checked = check_manifest(items[0], file=name)
            checked = resolve_linked_agents([checked], decisions.systems_by_slug)[0]
        except UnicodeDecodeError:
            row.errors.append(f"{name}: not UTF-8 text.")
            continue
        except ManifestErrors as exc:
            row.errors += [str(e) for e in exc.errors]
            continue
        except ManifestError as exc:
            row.errors.append(str(exc))
            continue
        row.slug = checked.agent["slug"]
        if row.slug in seen:
            row.errors.append("Another manifest in the zip describes this agent; keep one.")
            continue
        seen.add(row.slug)
        agent = Agent.objects.select_related("owner", "team").filter(slug=row.slug).first()
        team = Team.objects.filter(slug=team_slug).first() if agent is None else None
        if out := _out_of_team(user, agent, team):
            row.errors += out
            continue
        planned = manifest_sync.plan(checked, agent, team_slug)
        if planned["errors"]:
            row.errors += [f"{e['key']}: {e['message']}" for e in planned["errors"]]
            continue
        draft = Assessment.objects.open().filter(agent=agent).first() if agent else None
        if draft is not None and not draft.is_editable and planned["answer_changes"]:
            row.errors.append("Its assessment is awaiting review; decide it first.")
        row.manifest = planned
        row.changes = _manifest_changes(planned)
        row.action = "create" if agent is None else ("update" if row.changes else "unchanged")
    return ImportPlan(rows)


def _manifest_changes(planned: dict[str, Any]) -> list[str]:
    changes = planned["changes"]
    out: list[str] = []
    if "create" in changes:
        out.append("new agent")
    for name, change in (changes.get("fields") or {}).items():
        out.append(f"{name}: “{change['old'] or '—'}” → “{change['new'] or '—'}”")
    for kind in ("systems", "links"):
        block = changes.get(kind) or {}
        if isinstance(block, dict):
            out += [f"{kind[:-1]} added: {' '.join(map(str, v))}" for v in block.get("added", [])]
            out += [
                f"{kind[:-1]} removed: {' '.join(map(str, v))}" for v in block.get("removed", [])
            ]
    out += changes.get("owners", [])
    for key, change in planned["answer_changes"].items():
        out.append(f"answer {key}: {change['old']!r} → {change['new']!r}")
    return out


@transaction.atomic
def apply_zip(actor: Any, plan: ImportPlan, *, request: HttpRequest | None = None) -> int:
    """Apply every manifest of a valid plan: agents and drafts, in one transaction."""
    from assessments.interchange import manifest_sync

    if not plan.ok:
        raise actions.ActionError("The zip has errors; nothing was imported.")
    for row in plan.changing:
        agent = Agent.objects.filter(slug=row.slug).first()
        try:
            manifest_sync.apply(actor, agent, row.manifest or {}, request=request)
        except actions.ActionError as error:
            raise actions.ActionError(f"{row.source}: {error}") from error
    planner.after_bulk_write(len(plan.changing), (*IMPORTED_TABLES, Assessment))
    return len(plan.changing)
