"""The assessment wizard: one section a step, every answer saved as it is given.

Each step is a plain form (POST saves the step and moves on, without JavaScript). With
htmx, every question posts itself on change to ``answer``; the response swaps the
question's saved state and, out of band, the live decision panel, the progress list,
the draft's version and any follow-up question that appeared or disappeared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from assessments import actions, engine
from assessments.access import foreign
from assessments.access.roles import permission_required
from assessments.models import Assessment
from assessments.presentation import display_value, form_value, panel_context
from assessments.records import provenance
from assessments.views.common import (
    MISSING_VERSION,
    HtmxHttpRequest,
    check_scope,
    parse_version,
    scoped_agent,
)
from assessments.workflow import decisions


class AnswerParseError(ValueError):
    pass


# The form value of a multichoice question's explicit "none of these" answer.
NONE_CHOSEN = "none"


def _get_assessment(
    slug: str, number: int, request: HttpRequest | None = None, *, need: str = "read"
) -> Assessment:
    """The assessment; with ``request``, only if the person may ``need`` its agent
    ("read", "edit" or "decide": see ``views.common.scoped_agent``)."""
    assessment = get_object_or_404(
        Assessment.objects.select_related(
            "agent",
            "agent__owner",
            "agent__team",
            "catalogue",
            "assessor",
            "reviewer",
            "submitted_by",
        ),
        agent__slug=slug,
        number=number,
    )
    if request is not None:
        check_scope(request, assessment.agent, need)
    return assessment


def parse_answer(question: engine.Question, data: QueryDict) -> Any:
    """The posted value of one question, as the engine reads it; None clears it."""
    if question.type == "multichoice":
        if f"{question.id}__present" not in data and question.id not in data:
            raise AnswerParseError(f"No answer was sent for {question.id}.")
        chosen = data.getlist(question.id)
        if question.none_option:
            if NONE_CHOSEN in chosen:
                if len(chosen) > 1:
                    raise AnswerParseError(
                        f"“{question.none_option}” cannot be ticked together with a change."
                    )
                return []
            if not chosen:
                return None  # nothing ticked, not even "nothing": not answered yet
        allowed = [str(v) for v in question.values]
        unknown = [c for c in chosen if c not in allowed]
        if unknown:
            raise AnswerParseError(f"“{unknown[0][:40]}” is not one of the choices.")
        return [v for v in question.values if str(v) in chosen]
    raw = data.get(question.id, "")
    if raw == "":
        return None
    for value in question.values:
        if raw == form_value(value):
            return value
    raise AnswerParseError(f"“{raw[:40]}” is not one of the choices for this question.")


@dataclass
class QuestionView:
    """One question as the template shows it."""

    question: engine.Question
    value: Any
    visible: bool
    stored: bool

    @property
    def id(self) -> str:
        return self.question.id

    @property
    def form_value(self) -> str:
        return "" if self.value is None else form_value(self.value)

    @property
    def chosen(self) -> list[str]:
        return [form_value(v) for v in (self.value or [])] if isinstance(self.value, list) else []

    @property
    def options(self) -> list[dict[str, Any]]:
        return [
            {"value": form_value(o.value), "label": o.label, "explanation": o.explanation}
            for o in self.question.options
        ]

    @property
    def none_chosen(self) -> bool:
        """The explicit "none of these" answer was given (an empty list, not a missing one)."""
        return self.value == []

    @property
    def answered(self) -> bool:
        return self.value is not None

    @property
    def display(self) -> str:
        return display_value(self.question, self.value)


class WizardState:
    """Everything a wizard page or fragment needs, computed once per request."""

    def __init__(self, assessment: Assessment, reader: Any = None) -> None:
        """``reader``: the person the page is for; with reading scoped, the agents of
        other teams it is linked to are named nowhere in what they are shown (the
        decision itself is made with them, ``foreign.py``)."""
        self.assessment = assessment
        self.q = decisions.questionnaire(assessment.questionnaire_version)
        self.inventory = decisions.inventory_answers(assessment.agent)
        self.stored = dict(assessment.answers or {})
        self.catalogue = decisions.engine_catalogue(assessment.catalogue)
        self.effective = decisions.effective_answers(assessment, self.inventory)
        result = decisions.evaluate_answers(self.effective, assessment.catalogue)
        hidden = (
            foreign.for_reader(reader, self.stored, self.inventory)
            if reader is not None
            else frozenset()
        )
        if hidden:
            self.inventory = foreign.redact(self.inventory, hidden)
            self.stored = foreign.redact(self.stored, hidden)
            self.effective = foreign.redact(self.effective, hidden)
            result = foreign.redact_result(result, hidden)
        self.all_answers = {**self.stored, **self.inventory}
        self.result = result
        self.from_evidence = provenance.answers_from_evidence(assessment, self.all_answers)

    def section(self, section_id: str) -> engine.Section:
        for section in self.q.sections:
            if section.id == section_id:
                return section
        raise Http404("No such step.")

    def question_views(self, section: engine.Section) -> list[QuestionView]:
        return [
            QuestionView(
                question=q,
                value=self.all_answers.get(q.id),
                visible=q.shown(self.all_answers),
                stored=q.id in self.stored,
            )
            for q in section.questions
        ]

    def progress(self) -> list[dict[str, Any]]:
        steps = []
        missing = set(self.result.missing)
        for index, section in enumerate(self.q.sections, start=1):
            visible = [q for q in section.questions if q.shown(self.all_answers)]
            required = [q for q in visible if q.required]
            answered = [q for q in visible if self.all_answers.get(q.id) is not None]
            # A step of optional questions only is complete once all of them are answered:
            # "nothing required" is not "done" (the controls step at 0 of 4).
            complete = not any(q.id in missing for q in required) and (
                bool(required) or len(answered) == len(visible)
            )
            steps.append(
                {
                    "index": index,
                    "id": section.id,
                    "title": section.title,
                    "answered": len(answered),
                    "total": len(visible),
                    "complete": complete,
                }
            )
        return steps

    def next_step(self, section_id: str) -> str | None:
        ids = [s.id for s in self.q.sections]
        position = ids.index(section_id)
        return ids[position + 1] if position + 1 < len(ids) else None

    def previous_step(self, section_id: str) -> str | None:
        ids = [s.id for s in self.q.sections]
        position = ids.index(section_id)
        return ids[position - 1] if position else None

    def first_incomplete_step(self) -> str:
        for step in self.progress():
            if not step["complete"]:
                return step["id"]
        return self.q.sections[-1].id

    def contradictions(self) -> list[str]:
        notes = []
        linked = self.inventory["linked_agents"]
        if linked and self.stored.get("orchestration") == "standalone":
            names = ", ".join(a["slug"] for a in linked)
            notes.append(
                f"The answers say it works alone, but the inventory links it to {names}. "
                "The links still count towards composite reach."
            )
        return notes


def _wizard_context(state: WizardState, section: engine.Section, **extra: Any) -> dict[str, Any]:
    a = state.assessment
    return {
        "assessment": a,
        "agent": a.agent,
        "section": section,
        "questions": state.question_views(section),
        "steps": state.progress(),
        "step_number": [s.id for s in state.q.sections].index(section.id) + 1,
        "step_count": len(state.q.sections),
        "next_step": state.next_step(section.id),
        "previous_step": state.previous_step(section.id),
        "contradictions": state.contradictions(),
        "inventory": state.inventory,
        **panel_context(
            state.result,
            state.q,
            state.catalogue,
            state.from_evidence,
            answers=state.effective,
            pending=provenance.pending_from_evidence(state.assessment),
        ),
        **extra,
    }


def _editable_or_redirect(request: HtmxHttpRequest, assessment: Assessment) -> HttpResponse | None:
    if assessment.status not in Assessment.EDITABLE_STATUSES:
        if assessment.status == Assessment.Status.SUBMITTED:
            note = (
                "This assessment has been submitted and is waiting for a reviewer's decision; "
                "its answers can no longer be changed."
            )
        else:
            note = "This assessment has been decided; here is what was decided."
        messages.info(request, note)
        return redirect(assessment)
    return None


@permission_required("assessments.add_assessment")
@require_POST
def assessment_start(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    agent = scoped_agent(request, slug, need="edit")
    try:
        assessment = actions.start_assessment(request.user, agent, request=request)
    except actions.ActionError as error:
        messages.error(request, str(error))
        return redirect(agent)
    messages.success(
        request,
        f"Assessment v{assessment.number} started"
        + (
            f" from the answers approved in v{assessment.based_on.number}."
            if assessment.based_on
            else "."
        )
        + " Every answer is saved as you give it.",
    )
    return redirect("assessments:wizard", slug=agent.slug, number=assessment.number)


@permission_required("assessments.change_assessment")
@require_GET
def wizard_resume(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    """Back where the assessor left off: the last step they saved on."""
    assessment = _get_assessment(slug, number, request, need="edit")
    if (response := _editable_or_redirect(request, assessment)) is not None:
        return response
    step = assessment.current_step
    sections = decisions.questionnaire(assessment.questionnaire_version).sections
    if step not in {s.id for s in sections}:
        # Only then the answers are read and the engine run, to find the first step
        # not done: the redirect itself needs neither.
        step = WizardState(assessment, request.user).first_incomplete_step()
    return redirect("assessments:wizard_step", slug=slug, number=number, step=step)


@permission_required("assessments.change_assessment")
def wizard_step(request: HtmxHttpRequest, slug: str, number: int, step: str) -> HttpResponse:
    assessment = _get_assessment(slug, number, request, need="edit")
    if (response := _editable_or_redirect(request, assessment)) is not None:
        return response
    state = WizardState(assessment, request.user)
    section = state.section(step)
    if request.method == "POST":
        return _save_step(request, state, section)
    if assessment.current_step != step:
        # Remember where they are, without a new version or audit event.
        Assessment.objects.filter(pk=assessment.pk).update(current_step=step)
    return render(request, "assessments/wizard.html", _wizard_context(state, section))


def _save_step(
    request: HtmxHttpRequest, state: WizardState, section: engine.Section
) -> HttpResponse:
    """The no-JavaScript path: the whole step's answers in one POST."""
    assessment = state.assessment
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for view in state.question_views(section):
        q = view.question
        if q.source == "inventory" or not view.visible:
            continue
        if q.id not in request.POST and f"{q.id}__present" not in request.POST:
            continue
        try:
            value = parse_answer(q, request.POST)
        except AnswerParseError as error:
            errors[q.id] = str(error)
            continue
        if value != state.stored.get(q.id):
            changes[q.id] = value
    if errors:
        messages.error(request, "Some answers were not understood; nothing on this step was saved.")
        return render(
            request,
            "assessments/wizard.html",
            _wizard_context(state, section, errors=errors),
            status=422,
        )
    try:
        version = int(request.POST.get("lock_version", ""))
    except ValueError:
        return HttpResponse("The form is missing its version; reload the page.", status=400)
    try:
        assessment = actions.save_answers(
            request.user,
            assessment,
            changes,
            expected_version=version,
            step=section.id,
            request=request,
        )
    except actions.ConflictError as conflict:
        fresh = WizardState(_get_assessment(assessment.agent.slug, assessment.number), request.user)
        return render(
            request,
            "assessments/wizard.html",
            _wizard_context(fresh, section, conflict=_conflict_rows(fresh, conflict)),
            status=409,
        )
    except actions.ActionError as error:
        messages.error(request, str(error))
        return redirect(assessment)
    state = WizardState(assessment, request.user)
    # A follow-up that has just appeared on this step is asked before moving on.
    appeared = [
        v
        for v in state.question_views(section)
        if v.visible
        and v.value is None
        and v.question.required
        and v.question.source != "inventory"
        and v.question.show_if
    ]
    previous, following = state.previous_step(section.id), state.next_step(section.id)
    target: str
    if appeared:
        messages.info(request, "A follow-up question applies now; it is below.")
        target = section.id
    elif "previous" in request.POST and previous:
        target = previous
    elif following and "finish" not in request.POST:
        target = following
    else:
        return redirect(
            "assessments:wizard_review", slug=assessment.agent.slug, number=assessment.number
        )
    return redirect(
        "assessments:wizard_step", slug=assessment.agent.slug, number=assessment.number, step=target
    )


def _conflict_rows(state: WizardState, conflict: actions.ConflictError) -> list[dict[str, Any]]:
    rows = []
    for key, (theirs, yours) in conflict.fields.items():
        question = state.q.question(key)
        rows.append(
            {
                "key": key,
                "prompt": question.prompt,
                "theirs": display_value(question, theirs),
                "yours": display_value(question, yours),
                "yours_value": ""
                if yours is None
                else (
                    [form_value(v) for v in yours] if isinstance(yours, list) else form_value(yours)
                ),
            }
        )
    return rows


@permission_required("assessments.change_assessment")
@require_POST
def wizard_answer(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    """htmx autosave of one question."""
    assessment = _get_assessment(slug, number, request, need="edit")
    if assessment.status not in Assessment.EDITABLE_STATUSES:
        return HttpResponse("This assessment is no longer a draft.", status=409)
    q = decisions.questionnaire(assessment.questionnaire_version)
    question_id = request.POST.get("question", "")
    try:
        question = q.question(question_id)
    except (KeyError, LookupError):
        return HttpResponse("Unknown question.", status=400)
    if question.source == "inventory":
        return HttpResponse("This answer comes from the inventory.", status=400)
    try:
        version = int(request.POST.get("lock_version", ""))
        value = parse_answer(question, request.POST)
    except ValueError as error:
        message = str(error) if isinstance(error, AnswerParseError) else "Reload the page."
        return HttpResponse(message, status=400)
    step = decisions.questionnaire(assessment.questionnaire_version).section_of(question.id).id
    try:
        assessment = actions.save_answers(
            request.user,
            assessment,
            {question.id: value},
            expected_version=version,
            step=step,
            request=request,
        )
    except actions.ConflictError as conflict:
        fresh = _get_assessment(slug, number)
        state = WizardState(fresh, request.user)
        context = _wizard_context(state, state.section(step))
        context["conflict"] = _conflict_rows(state, conflict)
        context["conflict_question"] = next(v for v in context["questions"] if v.id == question.id)
        response = render(request, "assessments/wizard.html#autosave_conflict", context, status=409)
        return reswap(retarget(response, f"#q-{question.id}"), "outerHTML")
    except actions.ActionError as error:
        return HttpResponse(str(error), status=409)
    state = WizardState(assessment, request.user)
    context = _wizard_context(state, state.section(step))
    context["saved_question"] = question.id
    return render(request, "assessments/wizard.html#autosave", context)


@permission_required("assessments.change_assessment")
def wizard_review(request: HtmxHttpRequest, slug: str, number: int) -> HttpResponse:
    """The last step: every answer, the decision, and the submit button."""
    assessment = _get_assessment(slug, number, request, need="edit")
    if (response := _editable_or_redirect(request, assessment)) is not None:
        return response
    state = WizardState(assessment, request.user)
    if request.method == "POST":
        if (version := parse_version(request)) is None:
            return HttpResponse(MISSING_VERSION, status=400)
        try:
            actions.submit_assessment(
                request.user, assessment, expected_version=version, request=request
            )
        except actions.ConflictError as conflict:
            fresh = WizardState(_get_assessment(slug, number), request.user)
            return render(
                request,
                "assessments/wizard_review.html",
                {**_review_context(fresh), "conflict": conflict},
                status=409,
            )
        except actions.ActionError as error:
            messages.error(request, str(error))
            return render(
                request, "assessments/wizard_review.html", _review_context(state), status=422
            )
        messages.success(request, "Submitted for review. A reviewer other than you will decide it.")
        return redirect(assessment)
    Assessment.objects.filter(pk=assessment.pk).update(current_step="")
    return render(request, "assessments/wizard_review.html", _review_context(state))


def _review_context(state: WizardState) -> dict[str, Any]:
    sections = [
        {"section": section, "questions": [v for v in state.question_views(section) if v.visible]}
        for section in state.q.sections
    ]
    return {
        "assessment": state.assessment,
        "agent": state.assessment.agent,
        "sections": sections,
        "steps": state.progress(),
        "contradictions": state.contradictions(),
        **panel_context(
            state.result,
            state.q,
            state.catalogue,
            state.from_evidence,
            answers=state.effective,
            pending=provenance.pending_from_evidence(state.assessment),
        ),
    }
