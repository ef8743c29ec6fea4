"""An assessment's own page (decision, answers, review and sign-off) and comparisons."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from assessments import actions, engine
from assessments.access import foreign, scope
from assessments.access.roles import permission_required
from assessments.forms import BoundedDateField
from assessments.models import Assessment, AuditEvent, GapException
from assessments.presentation import display_value, history, panel_context
from assessments.records import provenance
from assessments.views.common import (
    MISSING_VERSION,
    HtmxHttpRequest,
    parse_version,
    scoped_agent,
)
from assessments.views.wizard import WizardState, _get_assessment
from assessments.workflow import decisions, reviews


class ApproveForm(forms.Form):
    exception_subjects = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Accept an exception for"
    )
    exception_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Why the gap is acceptable for now",
    )
    exception_expires_on = BoundedDateField(
        required=False,
        label="Exception expires on",
        help_text="At most 365 days from today. When it expires the gap re-opens and the agent is "
        "due for review.",
    )

    def __init__(self, *args: Any, subjects: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["exception_subjects"]
        assert isinstance(field, forms.MultipleChoiceField)  # noqa: S101 (for the type checker)
        field.choices = subjects


class ReturnForm(forms.Form):
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        label="What needs to change",
        help_text="The assessor sees this comment on the draft.",
    )


def _frozen_result(assessment: Assessment) -> engine.Result | None:
    if assessment.result:
        return engine.Result.from_dict(assessment.result)
    return None


def _exception_subjects(
    result: engine.Result | None, catalogue_controls: dict[str, str]
) -> list[tuple[str, str]]:
    if result is None:
        return []
    subjects = [
        (f, f"Blocking flag: {engine.FLAG_TITLES.get(f, f)}") for f in result.blocking_flags
    ]
    subjects += [
        (c, f"Control gap: {c} {catalogue_controls.get(c, '')}".strip()) for c in result.gaps
    ]
    return subjects


@permission_required("assessments.view_assessment")
@require_GET
def assessment_detail(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    assessment = _get_assessment(slug, number, request)
    return render(
        request, "assessments/assessment_detail.html", _detail_context(request, assessment)
    )


def _detail_context(
    request: HtmxHttpRequest, assessment: Assessment, **extra: Any
) -> dict[str, Any]:
    q = decisions.questionnaire(assessment.questionnaire_version)
    result: engine.Result | None
    if assessment.status in Assessment.EDITABLE_STATUSES:
        state = WizardState(assessment, request.user)
        result = state.result
        answers = state.all_answers
        effective: dict[str, Any] | None = state.effective
    else:
        answers = dict(assessment.answers or {})
        hidden = foreign.for_reader(request.user, answers)
        result = foreign.redact_result(_frozen_result(assessment), hidden)
        answers = foreign.redact(answers, hidden)
        effective = None
    from_evidence = provenance.answers_from_evidence(assessment, answers)
    controls = _control_titles(assessment)
    can_review, why_not = actions.can_review(request.user, assessment)
    can_approve, why_not_approve = actions.can_approve(request.user, assessment)
    today = timezone.localdate()
    exceptions = list(
        GapException.objects.filter(agent=assessment.agent).select_related(
            "accepted_by", "assessment"
        )
    )
    sections = [
        {
            "section": section,
            "rows": [
                {
                    "prompt": question.prompt,
                    "value": display_value(question, answers.get(question.id)),
                    "id": question.id,
                    "from_evidence": from_evidence.get(question.id),
                }
                for question in section.questions
                if question.shown(answers) or question.source == "inventory"
            ],
        }
        for section in q.sections
    ]
    versions = list(
        Assessment.objects.filter(agent=assessment.agent)
        .order_by("-number")
        .values_list("number", flat=True)
    )
    subjects = _exception_subjects(result, controls)
    context = {
        "assessment": assessment,
        "agent": assessment.agent,
        "report_overdue": reviews.overdue_decision(assessment, today),
        "sections": sections,
        "can_review": can_review,
        "why_not_review": why_not,
        "can_edit": scope.may_edit(request.user, assessment.agent),
        "can_approve": can_approve,
        "why_not_approve": why_not_approve,
        "approve_form": extra.pop("approve_form", None)
        or ApproveForm(
            subjects=subjects,
            # Nothing is ticked for the reviewer: accepting an exception is a choice.
            initial={"exception_expires_on": today + dt.timedelta(days=90)},
        ),
        "return_form": extra.pop("return_form", None) or ReturnForm(),
        "needs_exception": _needs_exception(result, exceptions, today),
        "exceptions": exceptions,
        "today": today,
        "versions": versions,
        # Consecutive autosaves by one person read as one entry.
        "history": history(
            foreign.events_shown_to(
                request.user,
                list(
                    AuditEvent.objects.for_object(assessment)
                    .select_related("actor")
                    .order_by("id")[:1000]
                ),
            )
        ),
        "control_titles": controls,
        **(
            panel_context(
                result,
                q,
                decisions.engine_catalogue(assessment.catalogue),
                from_evidence,
                answers=effective,
                pending=provenance.pending_from_evidence(assessment),
            )
            if result
            else {}
        ),
        **extra,
    }
    return context


def _needs_exception(
    result: engine.Result | None, exceptions: list[GapException], today: dt.date
) -> bool:
    """A blocking flag fired and no active exception covers it yet."""
    if result is None:
        return False
    covered = {e.subject for e in exceptions if e.is_active(today)}
    return any(flag not in covered for flag in result.blocking_flags)


@permission_required("assessments.review_assessment")
@require_POST
def assessment_decide(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    assessment = _get_assessment(slug, number, request, need="decide")
    decision = request.POST.get("decision")
    if decision not in ("approve", "return"):
        return HttpResponse("Choose approve or return.", status=400)
    if (version := parse_version(request)) is None:
        return HttpResponse(MISSING_VERSION, status=400)
    if decision == "approve":
        subjects = _exception_subjects(_frozen_result(assessment), _control_titles(assessment))
        approve_form = ApproveForm(request.POST, subjects=subjects)
        if not approve_form.is_valid():
            return _decision_refused(request, assessment, approve_form=approve_form)
        try:
            actions.approve_assessment(
                request.user,
                assessment,
                exception_subjects=approve_form.cleaned_data["exception_subjects"],
                exception_reason=approve_form.cleaned_data["exception_reason"],
                exception_expires_on=approve_form.cleaned_data["exception_expires_on"],
                expected_version=version,
                request=request,
            )
        except actions.ConflictError as conflict:
            return _decision_conflict(request, slug, number, conflict)
        except actions.ActionError as error:
            approve_form.add_error(None, str(error))
            return _decision_refused(request, assessment, approve_form=approve_form)
        governed = (
            "an agent identity"
            if assessment.classification == "agent_identity"
            else "a machine identity"
        )
        messages.success(
            request,
            f"Approved. {assessment.agent.name} is now governed as {governed}, "
            f"tier {assessment.tier}.",
        )
        return redirect(assessment)
    if decision == "return":
        return_form = ReturnForm(request.POST)
        if not return_form.is_valid():
            return _decision_refused(request, assessment, return_form=return_form)
        try:
            actions.return_assessment(
                request.user,
                assessment,
                comment=return_form.cleaned_data["comment"],
                expected_version=version,
                request=request,
            )
        except actions.ConflictError as conflict:
            return _decision_conflict(request, slug, number, conflict)
        except actions.ActionError as error:
            return_form.add_error(None, str(error))
            return _decision_refused(request, assessment, return_form=return_form)
        messages.success(request, "Returned to the assessor with your comment.")
        return redirect(assessment)
    return HttpResponse("Choose approve or return.", status=400)


@permission_required("assessments.change_assessment")
@require_POST
def assessment_withdraw(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    """Take a submitted assessment back to a draft before anyone decides it."""
    assessment = _get_assessment(slug, number, request, need="edit")
    if (version := parse_version(request)) is None:
        return HttpResponse(MISSING_VERSION, status=400)
    try:
        actions.withdraw_assessment(
            request.user,
            assessment,
            reason=request.POST.get("reason", ""),
            expected_version=version,
            request=request,
        )
    except actions.ConflictError as conflict:
        return _decision_conflict(request, slug, number, conflict)
    except actions.ActionError as error:
        messages.error(request, str(error))
        return redirect(assessment)
    messages.success(
        request,
        "Withdrawn. It is a draft again; the reviewers' requests to decide it are closed.",
    )
    return redirect("assessments:wizard", slug, number)


def _decision_conflict(
    request: HtmxHttpRequest, slug: str, number: int, conflict: actions.ConflictError
) -> HttpResponse:
    """The assessment as it is now, with what changed since the reviewer opened it."""
    fresh = _get_assessment(slug, number)
    return render(
        request,
        "assessments/assessment_detail.html",
        _detail_context(request, fresh, conflict=conflict),
        status=409,
    )


def _decision_refused(
    request: HtmxHttpRequest, assessment: Assessment, **bound: forms.Form
) -> HttpResponse:
    """The assessment page again, with the form that was refused and its errors."""
    return render(
        request,
        "assessments/assessment_detail.html",
        _detail_context(request, assessment, **bound),
        status=422,
    )


def _control_titles(assessment: Assessment) -> dict[str, str]:
    return {c.id: c.title for c in decisions.engine_catalogue(assessment.catalogue).controls}


@permission_required("assessments.view_assessment")
@require_GET
def assessment_compare(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug)
    versions = list(
        Assessment.objects.filter(agent=agent)
        .select_related("agent", "catalogue")
        .order_by("number")
    )
    by_number = {a.number: a for a in versions}
    if len(versions) < 2:
        messages.info(request, "There is only one version so far; nothing to compare.")
        return redirect(agent)
    try:
        left = by_number[int(request.GET.get("from", versions[-2].number))]
        right = by_number[int(request.GET.get("to", versions[-1].number))]
    except (KeyError, ValueError):
        messages.error(request, "Choose two versions of this agent's assessment.")
        left, right = versions[-2], versions[-1]
    q = decisions.questionnaire(right.questionnaire_version)
    left_answers, left_result = _answers_and_result(left, request.user)
    right_answers, right_result = _answers_and_result(right, request.user)
    answer_rows = []
    for question in q.questions:
        old, new = left_answers.get(question.id), right_answers.get(question.id)
        answer_rows.append(
            {
                "prompt": question.prompt,
                "id": question.id,
                "old": display_value(question, old),
                "new": display_value(question, new),
                "changed": old != new,
            }
        )
    old_rationale, new_rationale = list(left_result.rationale), list(right_result.rationale)
    context = {
        "agent": agent,
        "versions": versions,
        "left": left,
        "right": right,
        "left_result": left_result,
        "right_result": right_result,
        "answer_rows": answer_rows,
        "changed_count": sum(1 for r in answer_rows if r["changed"]),
        "flags_added": [f for f in right_result.flags if f not in left_result.flags],
        "flags_removed": [f for f in left_result.flags if f not in right_result.flags],
        "rationale_added": [s for s in new_rationale if s not in old_rationale],
        "rationale_removed": [s for s in old_rationale if s not in new_rationale],
        "rationale_kept": [s for s in new_rationale if s in old_rationale],
    }
    return render(request, "assessments/compare.html", context)


def _answers_and_result(
    assessment: Assessment, reader: Any
) -> tuple[dict[str, Any], engine.Result]:
    if assessment.status in Assessment.EDITABLE_STATUSES:
        state = WizardState(assessment, reader)
        return state.all_answers, state.result
    answers = dict(assessment.answers or {})
    hidden = foreign.for_reader(reader, answers)
    result = foreign.redact_result(engine.Result.from_dict(assessment.result or {}), hidden)
    return foreign.redact(answers, hidden), result
