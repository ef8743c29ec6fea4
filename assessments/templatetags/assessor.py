"""Small presentation helpers for templates."""

from __future__ import annotations

from typing import Any

from django import template

from assessments.presentation import one_line as _one_line

register = template.Library()

VERB_LABELS = {
    "agent.create": "registered the agent",
    "agent.update": "edited the agent",
    "agent.retire": "retired the agent",
    "agent.reactivate": "reactivated the agent",
    "assessment.start": "started an assessment",
    "assessment.answer": "answered questions",
    "assessment.submit": "submitted an assessment",
    "assessment.approve": "approved an assessment",
    "assessment.return": "returned an assessment",
    "exception.accept": "accepted an exception",
    "review.trigger": "triggered a reassessment",
    "review.schedule": "scheduled the next review",
    "review.close": "closed a review",
    "review.assign": "assigned a review",
    "review.remind": "sent review reminders",
    "exception.expire": "recorded an expired exception",
    "notifications.preference": "changed how they are e-mailed",
    "evidence.upload": "uploaded evidence",
    "evidence.accept": "accepted an answer from evidence",
    "evidence.reject": "rejected an answer from evidence",
    "calendar_feed.create": "created a calendar feed",
    "calendar_feed.revoke": "revoked a calendar feed",
    "auth.login": "signed in",
    "auth.logout": "signed out",
    "auth.login_failed": "failed to sign in",
    "auth.locked_out": "was locked out",
    "access.forbidden": "was refused access",
    "account.created": "created an account",
    "account.roles_added": "gave an account a role",
    "account.roles_removed": "took a role from an account",
    "account.superuser_granted": "made an account a superuser",
    "account.superuser_revoked": "took superuser status from an account",
    "account.staff_granted": "gave an account staff status",
    "account.staff_revoked": "took staff status from an account",
    "account.enabled": "enabled an account",
    "account.disabled": "disabled an account",
    "account.password_changed": "changed a password",
    "account.password_removed": "removed a password",
    "account.teams_added": "added an account to a team",
    "account.teams_removed": "took an account off a team",
    "account.mfa_added": "enrolled a second factor",
    "account.mfa_removed": "removed a second factor",
    "auth.login_sso": "signed in with single sign-on",
    "auth.login_refused": "was refused a local sign-in",
}


@register.filter
def verb_label(verb: str) -> str:
    """A readable phrase for an audit verb ("assessment.approve" -> "approved an assessment")."""
    return VERB_LABELS.get(verb, verb.replace(".", " ").replace("_", " "))


@register.filter
def one_line(value: Any) -> str:
    """A value as one line, without control characters (for e-mail subjects and bodies)."""
    return _one_line(value)
