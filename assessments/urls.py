from django.urls import path

from assessments.views import (
    agents,
    assessments,
    audit,
    dashboard,
    imports,
    notifications,
    ownership,
    tokens,
    wizard,
)
from assessments.views import catalogue as catalogue_views
from assessments.views import certification as certification_views
from assessments.views import discovery as discovery_views
from assessments.views import evidence as evidence_views
from assessments.views import feeds as review_feeds
from assessments.views import oscal as oscal_views
from assessments.views import reports as report_views
from assessments.views import reviews as review_views

app_name = "assessments"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("figures/", dashboard.figures, name="figures"),
    path("figures/status/", dashboard.figures_status, name="figures_status"),
    path("agents/", agents.agent_list, name="agent_list"),
    path("agents/new/", agents.agent_create, name="agent_create"),
    path("agents/import/", imports.agent_import, name="agent_import"),
    path("agents/lookup/", agents.agent_lookup, name="agent_lookup"),
    path("agents/form-row/<str:kind>/", agents.agent_form_row, name="agent_form_row"),
    path("agents/<slug:slug>/", agents.agent_detail, name="agent_detail"),
    path("agents/<slug:slug>/edit/", agents.agent_edit, name="agent_edit"),
    path("agents/<slug:slug>/retire/", agents.agent_retire, name="agent_retire"),
    path("agents/<slug:slug>/reactivate/", agents.agent_reactivate, name="agent_reactivate"),
    path("agents/<slug:slug>/ownership/", ownership.agent_ownership, name="agent_ownership"),
    path("agents/<slug:slug>/take-on/", ownership.agent_take_on, name="agent_take_on"),
    path("agents/<slug:slug>/activity/", ownership.agent_activity, name="agent_activity"),
    path(
        "agents/<slug:slug>/decommission/",
        ownership.agent_decommission,
        name="agent_decommission",
    ),
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
        "agents/<slug:slug>/assessments/<int:number>/withdraw/",
        assessments.assessment_withdraw,
        name="assessment_withdraw",
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
    path("queue/", review_views.queue, name="queue"),
    path("queue/assign/", review_views.queue_bulk_assign, name="queue_bulk_assign"),
    path(
        "agents/<slug:slug>/planned-changes/<slug:change>/landed/",
        review_views.planned_change_landed,
        name="planned_change_landed",
    ),
    path("calendar/", review_feeds.calendar_feeds, name="calendar_feeds"),
    path(
        "calendar/<int:pk>/revoke/", review_feeds.calendar_feed_revoke, name="calendar_feed_revoke"
    ),
    path("calendar/feed/<str:token>.ics", review_feeds.calendar_feed, name="calendar_feed"),
    # -- reports routes (PDF, CSV, board packs)
    path("reports/", report_views.reports, name="reports"),
    path("reports/board-packs/", report_views.board_pack_request, name="board_pack_request"),
    path("reports/board-packs/<int:pk>/", report_views.board_pack_status, name="board_pack_status"),
    path(
        "reports/board-packs/<int:pk>/download/",
        report_views.board_pack_download,
        name="board_pack_download",
    ),
    path(
        "reports/board-packs/<int:pk>/register.csv",
        report_views.board_pack_register,
        name="board_pack_register",
    ),
    path(
        "reports/sign-off/<str:document_id>/",
        report_views.board_pack_signoff,
        name="board_pack_signoff",
    ),
    path("reports/verify/", report_views.report_verify, name="report_verify"),
    path("reports/inventory.csv", report_views.export_inventory, name="export_inventory"),
    path("reports/assessments.csv", report_views.export_assessments, name="export_assessments"),
    path(
        "agents/<slug:slug>/assessments/<int:number>/report.pdf",
        report_views.assessment_report,
        name="assessment_report",
    ),
    # -- OSCAL exports (issue 27)
    path(
        "agents/<slug:slug>/assessments/<int:number>/oscal-results.json",
        oscal_views.assessment_oscal,
        name="assessment_oscal",
    ),
    path(
        "reports/board-packs/<int:pk>/oscal-results.json",
        oscal_views.board_pack_oscal,
        name="board_pack_oscal",
    ),
    path("reports/oscal-poam.json", oscal_views.oscal_poam, name="oscal_poam"),
    # -- notifications routes
    path("notifications/", notifications.notification_list, name="notification_list"),
    path(
        "notifications/read-all/",
        notifications.notification_mark_all_read,
        name="notification_mark_all_read",
    ),
    path(
        "notifications/preferences/",
        notifications.notification_preferences,
        name="notification_preferences",
    ),
    # -- evidence routes
    path("agents/<slug:slug>/evidence/add/", evidence_views.evidence_add, name="evidence_add"),
    path(
        "agents/<slug:slug>/evidence/jobs/<int:pk>/",
        evidence_views.evidence_job,
        name="evidence_job",
    ),
    path(
        "agents/<slug:slug>/evidence/<int:pk>/",
        evidence_views.evidence_detail,
        name="evidence_detail",
    ),
    path(
        "agents/<slug:slug>/evidence/<int:pk>/proposals/<int:proposal>/decide/",
        evidence_views.proposal_decide,
        name="proposal_decide",
    ),
    # -- API access
    path("account/api-tokens/", tokens.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", tokens.api_token_revoke, name="api_token_revoke"),
    path(
        "account/service-accounts/new/",
        tokens.service_account_create,
        name="service_account_create",
    ),
    # -- discovery routes
    path("discovery/", discovery_views.discovery_page, name="discovery"),
    path("discovery/triage/", discovery_views.discovery_bulk_triage, name="discovery_bulk_triage"),
    path("discovery/runs/<int:pk>/", discovery_views.discovery_run, name="discovery_run"),
    path(
        "discovery/identities/<int:pk>/",
        discovery_views.discovery_identity,
        name="discovery_identity",
    ),
    path(
        "discovery/identities/<int:pk>/triage/",
        discovery_views.discovery_triage,
        name="discovery_triage",
    ),
    # -- access certification (issue 26)
    path("certification/", certification_views.certification_list, name="certification_list"),
    path("certification/new/", certification_views.certification_start, name="certification_start"),
    path(
        "certification/to-certify/",
        certification_views.certification_mine,
        name="certification_mine",
    ),
    path(
        "certification/<int:pk>/",
        certification_views.certification_campaign,
        name="certification_campaign",
    ),
    path(
        "certification/<int:pk>/results.pdf",
        certification_views.certification_results_pdf,
        name="certification_results_pdf",
    ),
    path(
        "certification/<int:pk>/results.csv",
        certification_views.certification_results_csv,
        name="certification_results_csv",
    ),
    path(
        "certification/items/<int:pk>/attest/",
        certification_views.certification_attest,
        name="certification_attest",
    ),
    # -- catalogue routes
    path("catalogue/", catalogue_views.catalogue, name="catalogue"),
]
