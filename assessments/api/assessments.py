"""Assessments: list, read with the engine's result, start, answer, submit, and the
reviewer's approve or return (four-eyes: the actions refuse the assessor's own)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.responses import Status

from assessments import actions
from assessments.access import foreign, scope
from assessments.api.agents import page_of
from assessments.api.core import ERRORS, ApiError, require
from assessments.api.schemas import (
    AnswersIn,
    ApproveIn,
    AssessmentDetail,
    AssessmentOut,
    AssessmentPage,
    ReturnIn,
    SubmitIn,
    WithdrawIn,
)
from assessments.models import Agent, Assessment
from assessments.workflow import decisions

router = Router(tags=["assessments"])

RELATED = ("agent", "catalogue", "assessor", "submitted_by", "reviewer")


class AssessmentFilters(Schema):
    agent: str = ""
    status: str = ""
    page: int = 1


def _get(slug: str, number: int, user: Any = None) -> Assessment:
    """The assessment; with ``user``, not found unless they may read its agent."""
    if not 0 < number < 2**31:
        raise ApiError(404, "There is no such assessment.")
    assessment = get_object_or_404(
        Assessment.objects.select_related(*RELATED), agent__slug=slug, number=number
    )
    if user is not None and not scope.may_read(user, assessment.agent):
        raise ApiError(404, "There is no such assessment.")
    return assessment


def detail_of(assessment: Assessment, reader: Any = None) -> dict[str, Any]:
    """The assessment with its answers and result; for ``reader``, with the agents of
    other teams they may not read named nowhere (``foreign.py``)."""
    assessment = _get(assessment.agent.slug, assessment.number)
    result = assessment.result
    if result is None:
        result = decisions.evaluate_assessment(assessment).to_dict()
    answers = assessment.answers
    if reader is not None:
        hidden = foreign.for_reader(reader, answers, agent=assessment.agent)
        answers, result = foreign.redact(answers, hidden), foreign.redact(result, hidden)
    return {**AssessmentOut.of(assessment), "answers": answers, "result": result}


@router.get("/assessments", response={200: AssessmentPage, **ERRORS}, url_name="assessment_list")
def list_assessments(request: HttpRequest, filters: Query[AssessmentFilters]) -> Any:
    """Every assessment version, newest first; narrow by agent slug and status."""
    user = require(request, "read", "assessments.view_assessment")
    items = scope.readable(Assessment.objects.select_related(*RELATED), user, "agent__team")
    if filters.agent:
        items = items.filter(agent__slug=filters.agent)
    if filters.status:
        if filters.status not in Assessment.Status.values:
            raise ApiError(422, f"Unknown status; allowed: {', '.join(Assessment.Status.values)}.")
        items = items.filter(status=filters.status)
    current, meta = page_of(items.order_by("-created_at", "-pk"), filters.page)
    return {**meta, "results": [AssessmentOut.of(a) for a in current.object_list]}


@router.get(
    "/agents/{slug}/assessments/{number}",
    response={200: AssessmentDetail, **ERRORS},
    url_name="assessment_detail",
)
def get_assessment(request: HttpRequest, slug: str, number: int) -> Any:
    user = require(request, "read", "assessments.view_assessment")
    return detail_of(_get(slug, number, user), user)


@router.post(
    "/agents/{slug}/assessments",
    response={201: AssessmentDetail, **ERRORS},
    url_name="assessment_start",
)
def start_assessment(request: HttpRequest, slug: str) -> Any:
    """Start the next version: a re-assessment starts from the last approved answers."""
    user = require(request, "write", "assessments.add_assessment")
    agent = get_object_or_404(Agent, slug=slug)
    if not scope.may_read(user, agent):
        raise ApiError(404, "There is nothing here: check the slug, number or id.")
    return Status(201, detail_of(actions.start_assessment(user, agent, request=request), user))


@router.patch(
    "/agents/{slug}/assessments/{number}/answers",
    response={200: AssessmentDetail, **ERRORS},
    url_name="assessment_answer",
)
def answer(request: HttpRequest, slug: str, number: int, body: AnswersIn) -> Any:
    """Save answers. A ``lock_version`` older than the draft's is refused with 409 and,
    per question, the stored value and yours."""
    user = require(request, "write", "assessments.change_assessment")
    assessment = _get(slug, number, user)
    saved = actions.save_answers(
        user, assessment, body.answers, expected_version=body.lock_version, request=request
    )
    return detail_of(saved, user)


@router.post(
    "/agents/{slug}/assessments/{number}/submit",
    response={200: AssessmentDetail, **ERRORS},
    url_name="assessment_submit",
)
def submit(request: HttpRequest, slug: str, number: int, body: SubmitIn) -> Any:
    user = require(request, "write", "assessments.change_assessment")
    assessment = _get(slug, number, user)
    saved = actions.submit_assessment(
        user, assessment, expected_version=body.lock_version, request=request
    )
    return detail_of(saved, user)


@router.post(
    "/agents/{slug}/assessments/{number}/approve",
    response={200: AssessmentDetail, **ERRORS},
    url_name="assessment_approve",
)
def approve(request: HttpRequest, slug: str, number: int, body: ApproveIn) -> Any:
    """Approve (another person than the assessor and submitter). A blocking flag needs
    an exception with a reason and an expiry date. Send the ``lock_version`` you read:
    a decision is about those answers, and a stale one is a 409."""
    user = require(request, "review", "assessments.review_assessment")
    saved = actions.approve_assessment(
        user,
        _get(slug, number, user),
        exception_subjects=body.exception_subjects,
        exception_reason=body.exception_reason,
        exception_expires_on=body.exception_expires_on,
        expected_version=body.lock_version,
        request=request,
    )
    return detail_of(saved, user)


@router.post(
    "/agents/{slug}/assessments/{number}/return",
    response={200: AssessmentDetail, **ERRORS},
    url_name="assessment_return",
)
def return_(request: HttpRequest, slug: str, number: int, body: ReturnIn) -> Any:
    user = require(request, "review", "assessments.review_assessment")
    saved = actions.return_assessment(
        user,
        _get(slug, number, user),
        comment=body.comment,
        expected_version=body.lock_version,
        request=request,
    )
    return detail_of(saved, user)


@router.post(
    "/agents/{slug}/assessments/{number}/withdraw",
    response={200: AssessmentDetail, **ERRORS},
    url_name="assessment_withdraw",
)
def withdraw(request: HttpRequest, slug: str, number: int, body: WithdrawIn) -> Any:
    """Take a submitted assessment back to a draft before anyone decides it (409 when
    ``lock_version`` is not the one now stored)."""
    user = require(request, "write", "assessments.change_assessment")
    assessment = _get(slug, number, user)
    saved = actions.withdraw_assessment(
        user, assessment, reason=body.reason, expected_version=body.lock_version, request=request
    )
    return detail_of(saved, user)
