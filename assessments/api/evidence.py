"""Evidence: send an agent's access configuration, read back what it proposes.

``POST /agents/{slug}/evidence`` takes the files' text (JSON or YAML, as the page's
upload takes them) and always analyses them in the background, so no request waits
on a large file: it answers 202 with the job, and ``GET
/agents/{slug}/evidence/jobs/{job_id}`` tells its progress, then the proposals (each
with its rule's sentence and the lines, path steps included, that justify it).
``POST /agents/{slug}/evidence/files`` takes the same as files of a multipart form
(``multipart/form-data``: ``kind``, ``principal``, ``namespace`` and up to ten
``files``), each up to the 20 MiB the page's upload takes, where the JSON body is
capped at 2 MiB. Each file is looked at first (``evidence.precheck``: too large, not
text, truncated, not of the kind), so a bad one is refused at once naming it and
nothing is stored; then the job is queued as above.
Accepting or rejecting a proposal stays a person's act on the evidence page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status, UploadedFile
from pydantic import Field

from assessments import actions, evidence
from assessments.access import scope
from assessments.actions.evidence import MAX_FILES, _clean_name
from assessments.api.core import ERRORS, ApiError, Problem, absolute, require
from assessments.api.schemas import Body
from assessments.evidence import precheck
from assessments.middleware import accepts_upload_at
from assessments.models import Agent, EvidenceJob

router = Router(tags=["evidence"])


class EvidenceFileIn(Body):
    name: str = Field(max_length=255, description="The file's name (its suffix says JSON or YAML).")
    content: str = Field(description="The file's text, as exported (UTF-8).")


class EvidenceIn(Body):
    kind: str = Field(description=f"One of: {', '.join(evidence.KINDS)}.")
    principal: str = Field("", max_length=500, description="The identity the files are about.")
    namespace: str = Field(
        "", max_length=253, description="Kubernetes: the namespace of objects without one."
    )
    files: list[EvidenceFileIn] = Field(min_length=1, max_length=10)


class EvidenceLineOut(Schema):
    file: str
    where: str
    says: str


class ProposalOut(Schema):
    key: str
    value: Any
    rule: str
    sentence: str
    status: str
    evidence: list[EvidenceLineOut]


class EvidenceJobOut(Schema):
    id: int
    agent: str
    state: str
    progress: int
    message: str
    kind: str
    principal: str
    namespace: str
    files: list[str]
    created_at: datetime
    finished_at: datetime | None
    upload: int | None = Field(None, description="The evidence upload, once analysed.")
    page: str | None = Field(None, description="Where a person accepts or rejects proposals.")
    proposals: list[ProposalOut] = Field(default_factory=list)
    status: str = Field(description="This job's own URL, to poll.")


def _out(job: EvidenceJob) -> dict[str, Any]:
    upload = job.upload
    proposals = []
    if upload is not None:
        proposals = [
            {
                "key": p.key,
                "value": p.value,
                "rule": p.rule,
                "sentence": evidence.sentence(p.rule),
                "status": p.status,
                "evidence": p.evidence,
            }
            for p in upload.proposals.all()
        ]
    return {
        "id": job.pk,
        "agent": job.agent.slug,
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "kind": job.kind,
        "principal": job.principal,
        "namespace": job.namespace,
        "files": list(job.names),
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "upload": upload.pk if upload else None,
        "page": upload.get_absolute_url() if upload else None,
        "proposals": proposals,
        "status": absolute("evidence_job", job.agent.slug, job.pk),
    }


def _agent(slug: str, user: Any) -> Agent:
    agent = get_object_or_404(Agent.objects.select_related("team", "owner"), slug=slug)
    if not scope.may_read(user, agent):
        raise ApiError(404, "There is no such agent.")
    return agent


@router.post(
    "/agents/{slug}/evidence",
    response={202: EvidenceJobOut, **ERRORS},
    url_name="evidence_upload",
)
def upload_evidence(request: HttpRequest, slug: str, body: EvidenceIn) -> Any:
    """Send evidence files for the agent; they are analysed in the background. Poll the
    job's ``status`` URL until ``state`` is ``done`` (or ``failed``, with the reason)."""
    user = require(request, "write", "assessments.change_assessment")
    agent = _agent(slug, user)
    draft = agent.assessments.filter(status__in=agent.assessments.model.EDITABLE_STATUSES).first()
    files = [(f.name, f.content.encode("utf-8")) for f in body.files]
    try:
        job = actions.queue_evidence(
            user,
            agent,
            files,
            kind=body.kind,
            principal=body.principal,
            namespace=body.namespace,
            assessment=draft,
            request=request,
        )
    except actions.ActionError as error:
        raise ApiError(422, str(error)) from error
    return Status(202, _out(_job(slug, job.pk, user)))


def _job(slug: str, job_id: int, user: Any) -> EvidenceJob:
    if not 0 < job_id < 2**63:
        raise ApiError(404, "There is no such evidence job.")
    job = get_object_or_404(
        EvidenceJob.objects.select_related("agent__team", "upload").defer("files"),
        agent__slug=slug,
        pk=job_id,
    )
    if not scope.may_read(user, job.agent):
        raise ApiError(404, "There is no such evidence job.")
    return job


@router.get(
    "/agents/{slug}/evidence/jobs/{job_id}",
    response={200: EvidenceJobOut, **ERRORS},
    url_name="evidence_job",
)
def evidence_job(request: HttpRequest, slug: str, job_id: int) -> Any:
    """A background analysis: its progress, then the proposals the files support."""
    user = require(request, "read", "assessments.view_agent")
    return _out(_job(slug, job_id, user))


# As the page's upload: each file up to evidence.MAX_BYTES, four of them at most in size.
MAX_UPLOAD_BYTES = 4 * evidence.MAX_BYTES
accepts_upload_at("api:evidence_files", MAX_UPLOAD_BYTES)


@router.post(
    "/agents/{slug}/evidence/files",
    response={202: EvidenceJobOut, 413: Problem, **ERRORS},
    url_name="evidence_files",
)
def upload_evidence_files(
    request: HttpRequest,
    slug: str,
    kind: Form[str],
    files: File[list[UploadedFile]],
    principal: Form[str] = "",
    namespace: Form[str] = "",
) -> Any:
    """Send evidence files as a multipart form (each up to 20 MiB; the request up to
    80 MiB), analysed in the background: 202 with the job, whose ``status`` URL tells
    its progress and then the proposals. A file that is too large (413), not text,
    truncated or not of the kind (422) is named, and nothing is stored."""
    user = require(request, "write", "assessments.change_assessment")
    agent = _agent(slug, user)
    if kind not in evidence.KINDS:
        raise ApiError(422, f"Choose what the files are; allowed: {', '.join(evidence.KINDS)}.")
    if not 0 < len(files) <= MAX_FILES:
        raise ApiError(422, f"Send between 1 and {MAX_FILES} files.")
    received = []
    for upload in files:
        name = _clean_name(upload.name or "upload")
        if (upload.size or 0) > evidence.MAX_BYTES:
            raise ApiError(
                413,
                f"{name}: larger than the {evidence.MAX_BYTES // 1024 // 1024} MiB an evidence "
                "file may be. Nothing was stored.",
            )
        data = upload.read(evidence.MAX_BYTES + 1)
        try:
            precheck.check(kind, name, data)
        except evidence.EvidenceError as error:
            raise ApiError(422, f"{error}. Nothing was stored.") from None
        received.append((name, data))
    draft = agent.assessments.filter(status__in=agent.assessments.model.EDITABLE_STATUSES).first()
    try:
        job = actions.queue_evidence(
            user,
            agent,
            received,
            kind=kind,
            principal=principal,
            namespace=namespace,
            assessment=draft,
            request=request,
        )
    except actions.ActionError as error:
        raise ApiError(422, str(error)) from error
    return Status(202, _out(_job(slug, job.pk, user)))
