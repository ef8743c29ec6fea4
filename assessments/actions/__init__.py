"""Every state change is a named function in this package (Zulip's zerver/actions).

Views, management commands, tasks, the API and tests call these, never ``save()``
directly, so each path writes the same audit event in the same transaction as the
change. One module per area; everything is re-exported here, so callers write
``from assessments import actions`` and ``actions.submit_assessment(...)``.

- ``errors``: ``ActionError`` and ``ConflictError``, whose messages are for the user.
- ``inventory``: agents, their systems and links, retire and reactivate.
- ``assessments``: start, answer, submit, approve and return.
- ``reviews``: triggered reviews, composite escalation, planned changes, expired
  exceptions, assignment and reminders.
- ``reports``: issued assessment reports and board packs.
- ``oscal``: OSCAL assessment results and POA&M exports, recorded like the reports.
- ``catalogue``: catalogue versions.
- ``accounts``: personal calendar feeds, API tokens and service accounts.
- ``notifications``: who is told what (submissions, decisions, expiring exceptions,
  reviews due), e-mail preferences, reading notifications.
- ``evidence``: evidence uploads and their proposals (accept, reject), drift reviews.
- ``webhooks``: webhook endpoints and re-sending a delivery.
- ``ownership``: sponsors, owners and successors, leavers and orphaned agents,
  last activity and inactive agents.
- ``certification``: access certification campaigns: start, attest, remind, escalate.

Background work is handed over through ``assessments.workflow.background``, never by importing
``assessments.tasks`` (the tasks import this package, not the other way round).
"""

from assessments.actions.accounts import (
    MAX_CALENDAR_FEEDS,
    ROLE_SCOPES,
    allowed_scopes,
    can_manage_tokens_of,
    create_api_token,
    create_calendar_feed,
    create_service_account,
    record_refused_token,
    revoke_api_token,
    revoke_calendar_feed,
    touch_api_token,
)
from assessments.actions.assessments import (
    approve_assessment,
    can_approve,
    can_review,
    return_assessment,
    save_answers,
    start_assessment,
    submit_assessment,
    withdraw_assessment,
)
from assessments.actions.catalogue import (
    copy_catalogue_version,
    load_catalogue_version,
    make_catalogue_current,
)
from assessments.actions.certification import (
    attest_item,
    send_certification_reminders,
    start_campaign,
)
from assessments.actions.errors import ActionError, ConflictError
from assessments.actions.evidence import (
    UploadOutcome,
    accept_proposal,
    needs_background,
    queue_evidence,
    reject_proposal,
    run_evidence_job,
    upload_evidence,
)
from assessments.actions.inventory import (
    ACCESS_RANK,
    AGENT_FIELDS,
    TRIGGER_FIELDS,
    create_agent,
    reactivate_agent,
    retire_agent,
    update_agent,
)
from assessments.actions.notifications import (
    email_choice,
    email_choices,
    expiring_notices,
    mark_all_notifications_read,
    mark_emailed,
    mark_notifications_read,
    notify_decided,
    notify_expiring_exceptions,
    notify_submitted,
    record_reminders,
    resolve_awaiting,
    reviewers,
    set_notification_preference,
)
from assessments.actions.oscal import (
    NothingToExport,
    issue_oscal_board_results,
    issue_oscal_poam,
    issue_oscal_results,
)
from assessments.actions.ownership import (
    activity_from_discovery,
    answer_decommission,
    flag_inactive_agents,
    person_left,
    record_activity,
    set_ownership,
    take_on_agent,
)
from assessments.actions.reports import (
    AlreadySignedOff,
    IssuedReport,
    RateLimitedError,
    issue_assessment_report,
    issue_board_pack,
    record_board_signoff,
    request_board_pack,
    run_board_pack_job,
)
from assessments.actions.reviews import (
    ExpiredException,
    assign_review,
    assign_reviews,
    mark_planned_change_landed,
    process_expired_exceptions,
    trigger_review,
)
from assessments.actions.webhooks import (
    create_webhook_endpoint,
    resend_webhook,
    update_webhook_endpoint,
)

__all__ = [
    "attest_item",
    "send_certification_reminders",
    "start_campaign",
    "flag_inactive_agents",
    "person_left",
    "record_activity",
    "set_ownership",
    "take_on_agent",
    "activity_from_discovery",
    "answer_decommission",
    "NothingToExport",
    "issue_oscal_board_results",
    "issue_oscal_poam",
    "issue_oscal_results",
    "set_notification_preference",
    "reviewers",
    "notify_submitted",
    "notify_expiring_exceptions",
    "notify_decided",
    "mark_notifications_read",
    "mark_all_notifications_read",
    "resolve_awaiting",
    "mark_emailed",
    "email_choice",
    "email_choices",
    "expiring_notices",
    "ACCESS_RANK",
    "AGENT_FIELDS",
    "MAX_CALENDAR_FEEDS",
    "ROLE_SCOPES",
    "TRIGGER_FIELDS",
    "ActionError",
    "ConflictError",
    "ExpiredException",
    "IssuedReport",
    "AlreadySignedOff",
    "UploadOutcome",
    "accept_proposal",
    "RateLimitedError",
    "approve_assessment",
    "assign_review",
    "assign_reviews",
    "can_approve",
    "allowed_scopes",
    "can_manage_tokens_of",
    "can_review",
    "copy_catalogue_version",
    "create_agent",
    "create_api_token",
    "create_calendar_feed",
    "create_service_account",
    "create_webhook_endpoint",
    "issue_assessment_report",
    "issue_board_pack",
    "load_catalogue_version",
    "make_catalogue_current",
    "mark_planned_change_landed",
    "process_expired_exceptions",
    "reactivate_agent",
    "record_refused_token",
    "record_reminders",
    "reject_proposal",
    "resend_webhook",
    "record_board_signoff",
    "request_board_pack",
    "retire_agent",
    "revoke_api_token",
    "return_assessment",
    "revoke_calendar_feed",
    "run_board_pack_job",
    "save_answers",
    "start_assessment",
    "submit_assessment",
    "withdraw_assessment",
    "touch_api_token",
    "trigger_review",
    "update_agent",
    "upload_evidence",
    "queue_evidence",
    "run_evidence_job",
    "needs_background",
    "update_webhook_endpoint",
]
