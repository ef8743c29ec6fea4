from django.urls import path

from assessments.views import accounts, agents, audit, dashboard  # noqa: F401

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
    path("audit/", audit.audit_list, name="audit_list"),
]
