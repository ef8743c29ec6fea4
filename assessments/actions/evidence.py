"""Evidence actions: upload files for an agent, accept or reject what they propose.

An upload stores the files (bytes and SHA-256, never executed or fetched from), runs
the pure analysers (``assessments.evidence``) and records one proposal per answer
key. Accepting a proposal saves it as an answer of a draft through the same action
the wizard uses (systems go to the inventory, where systems live); rejecting needs a
reason. Newer evidence that disagrees with the approved assessment opens an
"Evidence changed" review; the same evidence twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from assessments import evidence
from assessments.access import scope
from assessments.actions.assessments import save_answers
from assessments.actions.errors import ActionError
from assessments.actions.inventory import update_agent
from assessments.actions.ownership import record_activity
from assessments.actions.reviews import trigger_review
from assessments.models import (
    Agent,
    Assessment,
    EvidenceFile,
    EvidenceJob,
    EvidenceProposal,
    EvidenceUpload,
    Review,
)
from assessments.records import audit
from assessments.workflow import background, decisions

MAX_FILES = 10
RANK = {"read": 1, "write": 2, "admin": 3}
MAX_REASON = 2000
DRIFT_CODE = "evidence_changed"


@dataclass
class UploadOutcome:
    upload: EvidenceUpload
    # True when these exact files (same kind and principal) were uploaded before for
    # this agent: nothing was stored, analysed again or triggered.
    duplicate: bool = False
    differences: list[str] = field(default_factory=list)
    review: Review | None = None


def fingerprint(kind: str, principal: str, hashes: Sequence[str], namespace: str = "") -> str:
    parts = [kind, principal, *sorted(hashes)]
    if namespace:  # read in another namespace, the same files say something else
        parts.append(f"namespace={namespace}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _check_input(
    actor: Any,
    agent: Agent,
    files: Sequence[tuple[str, bytes]],
    kind: str,
    principal: str,
    namespace: str,
    assessment: Assessment | None,
) -> tuple[str, str]:
    """What every upload checks before anything is read: ActionError for bad input."""
    scope.check_actor_edit(actor, agent)
    if agent.is_retired:
        raise ActionError("This agent is retired. Reactivate it before adding evidence.")
    if kind not in evidence.KINDS:
        raise ActionError(f"Choose what the files are; allowed: {', '.join(evidence.KINDS)}.")
    principal = (principal or "").strip()
    namespace = (namespace or "").strip()
    if kind in evidence.PRINCIPAL_REQUIRED and not principal:
        raise ActionError(f"Say which identity the files are about ({_principal_hint(kind)}).")
    if len(principal) > 500:
        raise ActionError("The identity is longer than 500 characters.")
    if len(namespace) > 253:
        raise ActionError("The namespace is longer than 253 characters.")
    if not files:
        raise ActionError("Choose at least one file.")
    if len(files) > MAX_FILES:
        raise ActionError(f"Upload at most {MAX_FILES} files at a time.")
    for name, data in files:
        if len(data) > evidence.MAX_BYTES:
            raise ActionError(
                f"{_clean_name(name)}: larger than the {evidence.MAX_BYTES // 1024 // 1024} MiB "
                "an evidence file may be. Nothing was stored."
            )
    if assessment is not None and (
        assessment.agent_id != agent.pk or assessment.status not in Assessment.EDITABLE_STATUSES
    ):
        raise ActionError("That assessment is not a draft of this agent.")
    return principal, namespace


def needs_background(kind: str, files: Sequence[tuple[str, bytes]]) -> bool:
    """Whether analysing these files could hold a web worker past a second: a large
    file, or an AWS file (its IAM action list alone takes a second or more to load)."""
    limit = getattr(settings, "EVIDENCE_SYNC_MAX_BYTES", 256 * 1024)
    return kind == "aws" or sum(len(data) for _name, data in files) > limit


@transaction.atomic
def queue_evidence(
    actor: Any,
    agent: Agent,
    files: Sequence[tuple[str, bytes]],
    *,
    kind: str,
    principal: str = "",
    namespace: str = "",
    assessment: Assessment | None = None,
    request: HttpRequest | None = None,
) -> EvidenceJob:
    """Keep the files and analyse them in the background (``run_evidence_job``): the
    same checks as :func:`upload_evidence` first, so bad input is refused at once."""
    agent = Agent.objects.select_related("team").get(pk=agent.pk)
    principal, namespace = _check_input(actor, agent, files, kind, principal, namespace, assessment)
    buffer = io.BytesIO()
    names = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index, (name, data) in enumerate(files):
            clean = _clean_name(name)
            names.append(clean)
            archive.writestr(f"{index:02d}", data)
    job = EvidenceJob.objects.create(
        agent=agent,
        assessment=assessment,
        kind=kind,
        principal=principal,
        namespace=namespace,
        names=names,
        files=buffer.getvalue(),
        requested_by=actor,
        message="Waiting for a worker",
    )
    audit.record(
        "evidence.queue",
        actor=actor,
        obj=job,
        agent=agent,
        request=request,
        changes={
            "kind": kind,
            "principal": principal,
            "namespace": namespace,
            "files": [
                {"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
                for n, (_x, d) in zip(names, files, strict=True)
            ],
        },
    )
    background.enqueue("analyse_evidence_job", job.pk)
    return job


def run_evidence_job(job_id: int) -> None:
    """Analyse a queued job's files through :func:`upload_evidence`, reporting progress
    on the job; a refusal (a file that cannot be parsed, a principal not in the files)
    is the job's message, and nothing is stored."""
    started = EvidenceJob.objects.filter(pk=job_id, state=EvidenceJob.State.QUEUED).update(
        state=EvidenceJob.State.RUNNING, progress=1, message="Starting"
    )
    if not started:  # already run, or running elsewhere: a retried task does nothing
        return
    job = EvidenceJob.objects.select_related("agent", "requested_by", "assessment").get(pk=job_id)
    last = [0.0]

    def progress(percent: int, message: str) -> None:
        now = time.monotonic()
        if now - last[0] < 0.4 and percent < 95:
            return  # the page polls once a second; fewer writes is kinder to SQLite
        last[0] = now
        EvidenceJob.objects.filter(pk=job_id).update(progress=percent, message=message[:500])

    def finish(state: str, message: str, **fields: Any) -> None:
        EvidenceJob.objects.filter(pk=job_id).update(
            state=state, message=message[:500], files=None, finished_at=timezone.now(), **fields
        )

    try:
        with zipfile.ZipFile(io.BytesIO(bytes(job.files or b""))) as archive:
            files = [(name, archive.read(f"{index:02d}")) for index, name in enumerate(job.names)]
        assessment = job.assessment
        if assessment is not None and assessment.status not in Assessment.EDITABLE_STATUSES:
            assessment = None  # submitted meanwhile: proposals go to whatever draft there is
        outcome = upload_evidence(
            job.requested_by,
            job.agent,
            files,
            kind=job.kind,
            principal=job.principal,
            namespace=job.namespace,
            assessment=assessment,
            progress=progress,
        )
    except ActionError as error:
        finish(EvidenceJob.State.FAILED, str(error), progress=100)
        return
    except Exception as error:
        logging.getLogger(__name__).exception("Evidence job %s failed", job_id)
        finish(
            EvidenceJob.State.FAILED,
            f"The files could not be analysed ({type(error).__name__}). Nothing was stored. "
            "Try again; if it fails again, tell an administrator.",
            progress=100,
        )
        return
    count = outcome.upload.proposals.count()
    finish(
        EvidenceJob.State.DONE,
        f"{count} proposed answer{'s' if count != 1 else ''}"
        + (
            " (these files were uploaded before; nothing was stored again)"
            if outcome.duplicate
            else ""
        ),
        progress=100,
        upload=outcome.upload,
        duplicate=outcome.duplicate,
        review_opened=outcome.review is not None,
    )


@transaction.atomic
def upload_evidence(
    actor: Any,
    agent: Agent,
    files: Sequence[tuple[str, bytes]],
    *,
    kind: str,
    principal: str = "",
    namespace: str = "",
    assessment: Assessment | None = None,
    request: HttpRequest | None = None,
    now: dt.datetime | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> UploadOutcome:
    """Store and analyse evidence files for ``agent``; ActionError for bad input.
    ``progress(percent, message)`` hears how far reading and analysing have got."""
    agent = Agent.objects.select_for_update(of=("self",)).select_related("team").get(pk=agent.pk)
    principal, namespace = _check_input(actor, agent, files, kind, principal, namespace, assessment)
    report = progress or (lambda _percent, _message: None)
    parsed = []
    total = sum(len(data) for _name, data in files) or 1
    done = 0
    for name, data in files:
        report(5 + 75 * done // total, f"Reading {_clean_name(name)}")
        try:
            parsed.append(evidence.parse_bytes(_clean_name(name), data))
        except evidence.EvidenceError as error:
            raise ActionError(f"{error}. Nothing was stored.") from None
        done += len(data)
    report(80, "Analysing what the files grant")
    try:
        analysis = evidence.analyse(
            kind,
            parsed,
            principal or None,
            internal_domains=getattr(settings, "EVIDENCE_INTERNAL_DOMAINS", ()),
            namespace=namespace or None,
        )
    except (evidence.EvidenceError, evidence.PrincipalNotFound) as error:
        raise ActionError(f"{error} Nothing was stored.") from None
    report(95, "Storing the proposals")

    key = fingerprint(kind, principal, [f.sha256 for f in parsed], namespace)
    existing = EvidenceUpload.objects.filter(agent=agent, kind=kind, fingerprint=key).first()
    if existing is not None:
        return UploadOutcome(upload=existing, duplicate=True)

    subjects = evidence.subjects(kind, parsed)
    previous = (
        EvidenceUpload.objects.filter(agent=agent, kind=kind).order_by("-uploaded_at").first()
    )
    upload = EvidenceUpload.objects.create(
        agent=agent,
        assessment=assessment,
        kind=kind,
        principal=analysis.principal or "",
        namespace=namespace,
        fingerprint=key,
        subjects=subjects,
        uploaded_by=actor,
        uploaded_at=now or timezone.now(),
    )
    redacted: dict[str, int] = {}
    for item, (_, data) in zip(parsed, files, strict=True):
        # Literal secrets are never kept; sha256 and size are the file's as uploaded.
        content, replaced = evidence.stored_bytes(kind, item, data)
        if replaced:
            redacted[item.name] = replaced
        EvidenceFile.objects.create(
            upload=upload, name=item.name, sha256=item.sha256, size=len(data), content=content
        )
    EvidenceProposal.objects.bulk_create(
        EvidenceProposal(
            upload=upload,
            key=p.key,
            value=p.value,
            rule=p.rule,
            evidence=[e.to_dict() for e in p.evidence],
        )
        for p in analysis.proposals
    )
    audit.record(
        "evidence.upload",
        actor=actor,
        obj=upload,
        agent=agent,
        request=request,
        changes={
            "kind": kind,
            "principal": upload.principal,
            **({"namespace": namespace} if namespace else {}),
            "files": [{"name": f.name, "sha256": f.sha256} for f in parsed],
            "secrets_redacted": redacted,
            "proposals": {p.key: p.value for p in analysis.proposals},
        },
    )
    if analysis.last_used is not None and analysis.last_used <= timezone.localdate():
        # The files say when the principal last acted: the agent's last activity, unless
        # a later one is known.
        record_activity(
            actor,
            agent,
            analysis.last_used,
            source=f"evidence: {analysis.last_used_from}"[:120],
            request=request,
        )
    outcome = UploadOutcome(upload=upload)
    approved = Assessment.objects.approved().filter(agent=agent).order_by("-number").first()
    if approved is not None:
        new_subjects = set(subjects) - set(previous.subjects) if previous is not None else set()
        outcome.differences = evidence.differences(
            analysis.proposals,
            approved.answers or {},
            labels=_labels(approved),
            new_subjects=new_subjects,
        )
        outcome.review = _trigger_drift(actor, agent, upload, outcome.differences, request)
    return outcome


def _trigger_drift(
    actor: Any,
    agent: Agent,
    upload: EvidenceUpload,
    differences: list[str],
    request: HttpRequest | None,
) -> Review | None:
    open_review = Review.objects.open().filter(agent=agent).first()
    already = {
        r.get("detail") for r in (open_review.reasons if open_review else []) if isinstance(r, dict)
    }
    files = ", ".join(f.name for f in upload.files.all())
    reasons = [
        {"code": DRIFT_CODE, "detail": f"Evidence changed ({files}): {text}"}
        for text in differences
    ]
    reasons = [r for r in reasons if r["detail"] not in already]
    if not reasons:
        return None
    return trigger_review(agent, reasons, actor=actor, request=request)


def _labels(assessment: Assessment) -> dict[str, str]:
    q = decisions.questionnaire(assessment.questionnaire_version)
    return {question.id: question.prompt for question in q.questions}


def _clean_name(name: str) -> str:
    """The file's own name, without a client's path, for display only."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = "".join(ch for ch in base if ch.isprintable())[:255]
    return cleaned or "evidence"


def _principal_hint(kind: str) -> str:
    return {
        "aws": "a role or user ARN",
        "kubernetes": "system:serviceaccount:NAMESPACE:NAME",
        "gcp": "serviceAccount:EMAIL",
    }.get(kind, "its name")


def _locked_pending(proposal: EvidenceProposal) -> EvidenceProposal:
    current = (
        EvidenceProposal.objects.select_for_update(of=("self",))
        .select_related("upload", "upload__agent")
        .get(pk=proposal.pk)
    )
    if current.status != EvidenceProposal.Status.PENDING:
        raise ActionError(
            f"This proposal was already {current.get_status_display().lower()}; "
            "reload the page to see who decided it."
        )
    return current


@transaction.atomic
def accept_proposal(
    actor: Any,
    proposal: EvidenceProposal,
    assessment: Assessment,
    *,
    request: HttpRequest | None = None,
) -> EvidenceProposal:
    """Make the proposal an answer of the draft ``assessment``, marked as from evidence."""
    proposal = _locked_pending(proposal)
    upload = proposal.upload
    scope.check_actor_edit(actor, upload.agent)
    if assessment.agent_id != upload.agent_id:
        raise ActionError("That assessment is of another agent.")
    fresh = Assessment.objects.select_related("agent").get(pk=assessment.pk)
    if fresh.status not in Assessment.EDITABLE_STATUSES:
        raise ActionError("Proposals can only be accepted into a draft assessment.")
    if proposal.key in decisions.INVENTORY_KEYS:
        _merge_systems(actor, fresh.agent, proposal.value, request)
    else:
        save_answers(
            actor,
            fresh,
            {proposal.key: proposal.value},
            expected_version=fresh.lock_version,
            request=request,
        )
    proposal.status = EvidenceProposal.Status.ACCEPTED
    proposal.assessment = fresh
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "assessment", "decided_by", "decided_at"])
    audit.record(
        "evidence.accept",
        actor=actor,
        obj=proposal,
        agent=upload.agent,
        request=request,
        changes={
            "key": proposal.key,
            "value": proposal.value,
            "rule": proposal.rule,
            "assessment": fresh.number,
            "files": [{"name": f.name, "sha256": f.sha256} for f in upload.files.all()],
        },
    )
    return proposal


def _merge_systems(
    actor: Any, agent: Agent, proposed: list[dict[str, str]], request: HttpRequest | None
) -> None:
    """Add proposed systems to the inventory, raising access where the evidence shows
    more; never lowering or removing what the inventory already records."""
    current = {s.name.lower(): {"name": s.name, "access": s.access} for s in agent.systems.all()}
    merged = dict(current)
    for system in proposed:
        found = merged.get(system["name"].lower())
        if found is None or RANK[system["access"]] > RANK[found["access"]]:
            merged[system["name"].lower()] = {
                "name": found["name"] if found else system["name"][:120],
                "access": system["access"],
            }
    if merged != current:
        update_agent(actor, agent, fields={}, systems=list(merged.values()), request=request)


@transaction.atomic
def reject_proposal(
    actor: Any,
    proposal: EvidenceProposal,
    reason: str,
    *,
    request: HttpRequest | None = None,
) -> EvidenceProposal:
    scope.check_actor_edit(actor, proposal.upload.agent)
    reason = (reason or "").strip()
    if not reason:
        raise ActionError("Say why the proposal is wrong; a rejection needs a reason.")
    if len(reason) > MAX_REASON:
        raise ActionError(f"Keep the reason under {MAX_REASON} characters.")
    proposal = _locked_pending(proposal)
    proposal.status = EvidenceProposal.Status.REJECTED
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.rejection_reason = reason
    proposal.save(update_fields=["status", "decided_by", "decided_at", "rejection_reason"])
    audit.record(
        "evidence.reject",
        actor=actor,
        obj=proposal,
        agent=proposal.upload.agent,
        request=request,
        changes={"key": proposal.key, "value": proposal.value, "reason": reason},
    )
    return proposal
