from django.urls import path

from assessments.views import agents, assessments, audit, dashboard, wizard

app_name = "assessments"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("agents/", agents.agent_list, name="agent_list"),
    path("agents/new/", agents.agent_create, name="agent_create"),
    path("agents/lookup/", agents.agent_lookup, name="agent_lookup"),
    path("agents/form-row/<str:kind>/", agents.agent_form_row, name="agent_form_row"),
    path("agents/<slug:slug>/", agents.agent_detail, name="agent_detail"),
    path("agents/<slug:slug>/edit/", agents.agent_edit, name="agent_edit"),
    path("agents/<slug:slug>/retire/", agents.agent_retire, name="agent_retire"),
    path("agents/<slug:slug>/reactivate/", agents.agent_reactivate, name="agent_reactivate"),
    path("agents/<slug:slug>/assessments/start/", wizard.assessment_start, name="assessment_start"),
    path(
        "agents/<slug:slug>/assessments/compare/",
        assessments.assessment_compare,
        name="assessment_compare",
    ),
    path(
        "agents/<slug:slug>/assessments/<int:number>/",
        assessments.assessment_detail,
        name="assessment_detail",
    ),
    path(
        "agents/<slug:slug>/assessments/<int:number>/decide/",
        assessments.assessment_decide,
        name="assessment_decide",
    ),
    path(
        "agents/<slug:slug>/assessments/<int:number>/wizard/", wizard.wizard_resume, name="wizard"
    ),
    path(
        "agents/<slug:slug>/assessments/<int:number>/wizard/answer/",
        wizard.wizard_answer,
        name="wizard_answer",
    ),
    path(
        "agents/<slug:slug>/assessments/<int:number>/wizard/review/",
        wizard.wizard_review,
        name="wizard_review",
    ),
    path(
        "agents/<slug:slug>/assessments/<int:number>/wizard/<slug:step>/",
        wizard.wizard_step,
        name="wizard_step",
    ),
    path("audit/", audit.audit_list, name="audit_list"),
    # -- reviews routes (queue, calendar, dashboard helpers)
    # -- reports routes (PDF, CSV, board packs)
    # -- catalogue routes
]
