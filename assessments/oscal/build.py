"""OSCAL 1.2 documents from export content, with compliance-trestle's models.

trestle's pydantic models check every field as the document is built (required fields,
UUID and token patterns, enumerations), so a document that would not import is refused
here rather than by the GRC platform. The tests validate the output against NIST's
published JSON schemas as well.

UUIDs are derived (UUID v5) from what they identify, so exporting the same assessment
twice names its findings, observations and risks the same way, as OSCAL asks ("assigned
per-subject ... consistently used to identify the same subject across revisions").
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from assessments.oscal import NS
from assessments.oscal.content import AssessmentBlock

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, NS)
STATUS_TEXT = {"in_place": "In place", "gap": "Gap", "unknown": "Not shown by the answers"}


def _uuid(*parts: Any) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def oscal_control_id(label: str) -> str:
    """NIST's label to the OSCAL control id: ``AC-6(7)`` -> ``ac-6.7``, ``IA-4`` -> ``ia-4``."""
    match = re.fullmatch(r"([A-Z]{2})-(\d+)(?:\((\d+)\))?", label)
    if match is None:
        raise ValueError(f"{label!r} is not an SP 800-53 control or enhancement label")
    family, number, enhancement = match.groups()
    return f"{family.lower()}-{number}" + (f".{enhancement}" if enhancement else "")


def _token(text: str) -> str:
    """A control id as an OSCAL token: ``AIC-01`` -> ``aic-01``."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "control"


def _at(value: Any, fallback: dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(23, 59, 59), tzinfo=dt.UTC)
    return fallback


def _line(text: Any) -> str:
    """OSCAL titles are one line without leading or trailing spaces."""
    return " ".join(str(text).split()) or "-"


@dataclass(frozen=True)
class ExportMeta:
    document_id: str
    content_sha256: str
    generated_at: dt.datetime
    generated_by: str
    title: str
    version: str


class _Parties:
    """The people a document names (assessors, reviewers, owners), one party each."""

    def __init__(self) -> None:
        self.by_name: dict[str, Any] = {}
        self.roles: dict[str, set[str]] = {}

    def add(self, name: str, role: str, email: str = "") -> str | None:
        from trestle.oscal import common

        name = _line(name) if name else ""
        if not name:
            return None
        if name not in self.by_name:
            self.by_name[name] = common.Parties(
                uuid=_uuid("party", name),
                type="person",
                name=name,
                email_addresses=[email] if email and "@" in email else None,
            )
        party = self.by_name[name]
        if email and "@" in email and not party.email_addresses:
            party.email_addresses = [email]
        self.roles.setdefault(role, set()).add(party.uuid)
        return party.uuid

    def metadata(self, meta: ExportMeta, roles: dict[str, str], extra_props: list[Any]) -> Any:
        from trestle.oscal import OSCAL_VERSION, common

        return common.Metadata(
            title=_line(meta.title),
            last_modified=meta.generated_at,
            version=meta.version,
            oscal_version=OSCAL_VERSION,
            props=[
                _prop("document-id", meta.document_id),
                _prop("content-sha256", meta.content_sha256),
                _prop("generated-by", meta.generated_by),
                *extra_props,
            ],
            roles=[common.Role(id=role, title=title) for role, title in roles.items()] or None,
            parties=list(self.by_name.values()) or None,
            responsible_parties=[
                common.ResponsibleParty(role_id=role, party_uuids=sorted(uuids))
                for role, uuids in sorted(self.roles.items())
                if uuids
            ]
            or None,
        )


def _prop(name: str, value: Any, remarks: str | None = None) -> Any:
    from trestle.oscal import common

    return common.Property(name=name, value=_line(value), ns=NS, remarks=remarks)


def _dump(root: str, model: Any) -> bytes:
    data = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    return (json.dumps({root: data}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- results

AR_ROLES = {
    "assessor": "Assessor",
    "reviewer": "Reviewer (approves the assessment)",
    "asset-owner": "Agent owner",
}


def _result(block: AssessmentBlock, parties: _Parties, resources: list[Any]) -> Any:
    from trestle.oscal import assessment_results as ar
    from trestle.oscal import common

    c = block.content
    a, agent, decision = c["assessment"], c["agent"], c["decision"]
    now = dt.datetime.now(dt.UTC)
    start = _at(a["submitted_at"] or a["created_at"], now)
    end = _at(a["decided_at"], start) if a["decided_at"] else None
    assessor = parties.add(a["assessor"] or a["submitted_by"], "assessor")
    reviewer = parties.add(a["reviewer"], "reviewer") if a["approved"] else None
    parties.add(agent["owner"], "asset-owner", agent.get("owner_email", ""))
    component_uuid = _uuid(block.agent_key, "component")
    component = common.SystemComponent(
        uuid=component_uuid,
        type="service",
        title=_line(f"{agent['name']} ({agent['slug']})"),
        description=agent["purpose"] or agent["name"],
        props=[
            _prop("agent-slug", agent["slug"]),
            _prop("team", agent["team"]),
            _prop("owner", agent["owner"]),
            *([_prop("platform", agent["platform"])] if agent.get("platform") else []),
        ],
        status=common.Status(state="operational"),
    )
    subject = [common.SubjectReference(subject_uuid=component_uuid, type="component")]

    def origin(party_uuid: str | None) -> list[Any] | None:
        if party_uuid is None:
            return None
        return [common.Origin(actors=[common.OriginActor(type="party", actor_uuid=party_uuid)])]

    # Observations: one per answer, EXAMINE for an answer the assessor gave, TEST for one
    # an analyser established from accepted evidence (with the evidence files).
    evidence = {item["key"]: item for item in c["from_evidence"]}
    observations: list[Any] = []
    by_fact: dict[str, str] = {}
    for section in c["answers"]:
        for row in section["rows"]:
            obs_uuid = _uuid(block.key, "observation", row["id"])
            by_fact[row["id"]] = obs_uuid
            item = evidence.get(row["id"])
            relevant = None
            collected = start
            props = [_prop("question", row["id"]), _prop("section", section["title"])]
            if item is not None:
                relevant = []
                for file in item["files"]:
                    res_uuid = _uuid("evidence-file", file["sha256"])
                    if not any(r.uuid == res_uuid for r in resources):
                        resources.append(
                            common.Resource(
                                uuid=res_uuid,
                                title=_line(file["name"]),
                                description=f"Evidence file {file['name']}, {item['kind']}",
                                rlinks=[
                                    common.Rlink(
                                        href=block.evidence_urls.get(row["id"]) or block.url,
                                        hashes=[
                                            common.Hash(algorithm="SHA-256", value=file["sha256"])
                                        ],
                                    )
                                ],
                            )
                        )
                    relevant.append(
                        common.RelevantEvidence(
                            href=f"#{res_uuid}",
                            description=f"{file['name']}, SHA-256 {file['sha256']}",
                            props=[_prop("sha256", file["sha256"])],
                        )
                    )
                collected = _at(item["uploaded_at"], start)
                props.append(_prop("evidence-rule", item["rule"]))
                if item.get("accepted_by"):
                    props.append(_prop("evidence-accepted-by", item["accepted_by"]))
            observations.append(
                common.Observation(
                    uuid=obs_uuid,
                    title=_line(row["prompt"]),
                    description=f"Answer: {row['value']}",
                    props=props,
                    methods=["TEST" if item is not None else "EXAMINE"],
                    types=["control-objective"],
                    origins=origin(assessor),
                    subjects=subject,
                    relevant_evidence=relevant or None,
                    collected=collected,
                )
            )

    # Findings: one per required control; risks for its gaps (accepted or open).
    findings: list[Any] = []
    risks: list[Any] = []
    reviewed: list[str] = []
    for control in c["controls"]:
        extra = block.controls.get(control["id"], {})
        nist = [oscal_control_id(label) for label in extra.get("nist", [])]
        reviewed.extend(n for n in nist if n not in reviewed)
        exception = control.get("exception")
        status = control["status"]
        if status == "in_place":
            state, reason, remarks = "satisfied", "pass", None
        elif status == "gap" and exception:
            state, reason = "not-satisfied", "other"
            remarks = (
                f"Risk accepted by an exception until {exception['expires_on']:%Y-%m-%d} "
                f"(accepted by {exception['accepted_by']} in assessment "
                f"{exception['accepted_in']}): {exception['reason']}"
            )
        elif status == "gap":
            state, reason, remarks = "not-satisfied", "fail", None
        else:
            state, reason, remarks = "not-satisfied", "other", "Not shown by the answers."
        related_risks = None
        if status == "gap":
            risk_uuid = _uuid(block.key, "risk", control["id"])
            related_risks = [common.AssociatedRisk(risk_uuid=risk_uuid)]
            risk_log = None
            if exception:
                risk_log = common.RiskLog(
                    entries=[
                        common.Entry(
                            uuid=_uuid(block.key, "risk-log", control["id"]),
                            title="Risk accepted by an exception",
                            description=exception["reason"],
                            start=end or start,
                            end=_at(exception["expires_on"], end or start),
                            status_change=common.RiskStatus("deviation-approved"),
                        )
                    ]
                )
            risks.append(
                common.Risk(
                    uuid=risk_uuid,
                    title=_line(f"Gap: {control['id']} {control['title']}"),
                    description=extra.get("description") or control["title"],
                    statement=(
                        f"{agent['name']} does not meet {control['id']} "
                        f"({control['title']}), which its class requires."
                    ),
                    props=[_prop("control", control["id"])],
                    status=common.RiskStatus("deviation-approved" if exception else "open"),
                    deadline=_at(exception["expires_on"], start) if exception else None,
                    risk_log=risk_log,
                    related_observations=[
                        common.RelatedObservation(observation_uuid=by_fact[f])
                        for f in extra.get("facts", [])
                        if f in by_fact
                    ]
                    or None,
                )
            )
        findings.append(
            common.Finding(
                uuid=_uuid(block.key, "finding", control["id"]),
                title=_line(f"{control['id']} {control['title']}"),
                description=(
                    f"{STATUS_TEXT.get(status, status)}. "
                    + (extra.get("description") or control.get("description") or "")
                ).strip(),
                props=[_prop("control", control["id"])]
                + [_prop("nist-sp-800-53", n) for n in nist],
                origins=origin(reviewer or assessor),
                target=common.FindingTarget(
                    type="objective-id",
                    target_id=_token(control["id"]),
                    title=_line(f"{control['id']} {control['title']}"),
                    status=common.ObjectiveStatus(state=state, reason=reason, remarks=remarks),
                ),
                related_observations=[
                    common.RelatedObservation(observation_uuid=by_fact[f])
                    for f in extra.get("facts", [])
                    if f in by_fact
                ]
                or None,
                related_risks=related_risks,
            )
        )
    include = reviewed or [_token(control["id"]) for control in c["controls"]] or ["none"]
    return ar.Result(
        uuid=_uuid(block.key, "result"),
        title=_line(f"{agent['name']}: assessment {a['number']} ({a['status_label']})"),
        description=(
            f"{decision['headline']}. {decision['meaning']} Classification: "
            f"{decision['classification_label']}; tier {decision['tier_label']}. "
            f"Questionnaire {a['questionnaire_version']}, catalogue {a['catalogue_version']}."
        ),
        start=start,
        end=end,
        props=[
            _prop("agent-slug", agent["slug"]),
            _prop("assessment-number", a["number"]),
            _prop("assessment-status", a["status"]),
            _prop("classification", decision["classification"]),
            _prop("tier", decision["tier"]),
            _prop("catalogue-version", a["catalogue_version"]),
            _prop("questionnaire-version", a["questionnaire_version"]),
            *(
                [_prop("next-review-on", decision["next_review_on"].isoformat())]
                if decision.get("next_review_on")
                else []
            ),
            *([_prop("approval-event", a["approval_event"])] if a["approval_event"] else []),
        ],
        links=[
            common.Link(href=block.url, rel="alternate", text="The assessment in the application")
        ],
        local_definitions=ar.LocalDefinitions1(components=[component]),
        reviewed_controls=common.ReviewedControls(
            description=(
                "NIST SP 800-53 Rev. 5 controls and enhancements that the required controls "
                "implement or support (catalogue mappings)."
                if reviewed
                else "The required controls of the catalogue (it maps none to SP 800-53)."
            ),
            control_selections=[
                common.ControlSelections(
                    include_controls=[common.SelectControlById(control_id=i) for i in include]
                )
            ],
        ),
        observations=observations or None,
        risks=risks or None,
        findings=findings or None,
        remarks=c["rationale"] if isinstance(c.get("rationale"), str) else None,
    )


def assessment_results(
    blocks: Iterable[AssessmentBlock], meta: ExportMeta, *, key: str, plan_href: str
) -> bytes:
    """An ``assessment-results`` document: one result per assessment in ``blocks``."""
    from trestle.oscal import assessment_results as ar
    from trestle.oscal import common

    parties = _Parties()
    resources: list[Any] = []
    results = [_result(block, parties, resources) for block in blocks]
    if not results:
        raise ValueError("There is no approved assessment in this scope to export.")
    versions = sorted({b.content["assessment"]["catalogue_version"] for b in blocks})
    document = ar.AssessmentResults(
        uuid=_uuid(key, meta.content_sha256),
        metadata=parties.metadata(
            meta, AR_ROLES, [_prop("catalogue-version", v) for v in versions]
        ),
        import_ap=ar.ImportAp(
            href=plan_href,
            remarks=(
                "There is no separate OSCAL assessment plan: each assessment follows the "
                "questionnaire and control catalogue versions named in its result."
            ),
        ),
        results=results,
        back_matter=common.BackMatter(resources=resources) if resources else None,
    )
    return _dump("assessment-results", document)


# --------------------------------------------------------------------------- POA&M

POAM_ROLES = {"asset-owner": "Agent owner", "reviewer": "Reviewer who approved the assessment"}


def poam(content: dict[str, Any], meta: ExportMeta, *, key: str) -> bytes:
    """A ``plan-of-action-and-milestones`` document: one item per gap."""
    from trestle.oscal import common
    from trestle.oscal import poam as p

    parties = _Parties()
    risks, items = [], []
    for row in content["items"]:
        agent, a, control, exception = (
            row["agent"],
            row["assessment"],
            row["control"],
            row["exception"],
        )
        base = (agent["key"], a["number"], control["id"])
        owner = parties.add(agent["owner"], "asset-owner", agent.get("owner_email", ""))
        parties.add(a["reviewer"], "reviewer")
        due = _at(row["due_on"], meta.generated_at) if row["due_on"] else None
        decided = _at(a["decided_at"], meta.generated_at)
        nist = [oscal_control_id(label) for label in control["nist"]]
        risk_uuid = _uuid(*base, "risk")
        log = None
        if exception:
            log = common.RiskLog(
                entries=[
                    common.Entry(
                        uuid=_uuid(*base, "risk-log"),
                        title="Risk accepted by an exception",
                        description=(
                            f"Accepted by {exception['accepted_by']} in assessment "
                            f"{exception['accepted_in']}: {exception['reason']}"
                        ),
                        start=_at(exception["accepted_at"], decided),
                        end=_at(exception["expires_on"], decided),
                        status_change=common.RiskStatus("deviation-approved"),
                    )
                ]
            )
        risks.append(
            common.Risk(
                uuid=risk_uuid,
                title=_line(f"{agent['name']}: {control['id']} {control['title']}"),
                description=control["description"] or control["title"],
                statement=(
                    f"{agent['name']} does not meet {control['id']} ({control['title']}) in its "
                    f"latest approved assessment (version {a['number']})."
                ),
                props=[_prop("control", control["id"])]
                + [_prop("nist-sp-800-53", n) for n in nist],
                status=common.RiskStatus("deviation-approved" if exception else "open"),
                deadline=due,
                remediations=[
                    common.Response(
                        uuid=_uuid(*base, "remediation"),
                        lifecycle="planned",
                        title=_line(f"Put {control['id']} in place"),
                        description=control["description"] or control["title"],
                        origins=[
                            common.Origin(
                                actors=[common.OriginActor(type="party", actor_uuid=owner)]
                            )
                        ]
                        if owner
                        else None,
                    )
                ],
                risk_log=log,
            )
        )
        items.append(
            p.PoamItem(
                uuid=_uuid(*base, "poam-item"),
                title=_line(f"{agent['name']}: {control['id']} {control['title']}"),
                description=(
                    f"Gap in {agent['name']} ({agent['slug']}, team {agent['team']}), found in "
                    f"assessment {a['number']} under catalogue {a['catalogue_version']}. "
                    + (
                        f"Risk accepted by an exception until {exception['expires_on']:%Y-%m-%d}."
                        if exception
                        else (
                            f"Open: due by the next review on {row['due_on']:%Y-%m-%d}."
                            if row["due_on"]
                            else "Open."
                        )
                    )
                ),
                props=[
                    _prop("agent-slug", agent["slug"]),
                    _prop("team", agent["team"]),
                    _prop("owner", agent["owner"]),
                    _prop("control", control["id"]),
                    *([_prop("due-date", f"{row['due_on']:%Y-%m-%d}")] if row["due_on"] else []),
                    *(
                        [_prop("exception-expires", f"{exception['expires_on']:%Y-%m-%d}")]
                        if exception
                        else []
                    ),
                ],
                links=[common.Link(href=a["url"], rel="related", text="The assessment")],
                related_risks=[common.AssociatedRisk(risk_uuid=risk_uuid)],
            )
        )
    document = p.PlanOfActionAndMilestones(
        uuid=_uuid(key, meta.content_sha256),
        metadata=parties.metadata(meta, POAM_ROLES, [_prop("scope", content["scope"])]),
        system_id=common.SystemId(identifier_type=NS, id=_token(key)),
        risks=risks or None,
        poam_items=items,
    )
    return _dump("plan-of-action-and-milestones", document)
