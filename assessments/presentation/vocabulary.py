"""Codes into words: answer values, flags, signals, rules' sentences, audit verbs and fields."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from assessments import engine
from assessments.engine.terms import (
    ANSWER_TITLES,
    CLASSIFICATION_TITLES,
    CONTROL_STATUS_TITLES,
    NO_CLASSIFICATION_TITLE,
)

NOT_SHOWN = CONTROL_STATUS_TITLES["unknown"]

VERB_LABELS = {
    "agent.create": "registered the agent",
    "discovery.upload": "uploaded export files for discovery",
    "discovery.run": "read a discovery run",
    "discovery.fail": "could not read a discovery run",
    "discovery.register": "registered a discovered identity as an agent",
    "discovery.machine": "kept a discovered identity as a machine identity",
    "discovery.decommission": "asked for a discovered identity to be decommissioned",
    "discovery.dismiss": "dismissed a decommission",
    "discovery.reopen": "reopened a discovered identity for triage",
    "agent.update": "edited the agent",
    "agent.retire": "retired the agent",
    "agent.reactivate": "reactivated the agent",
    "assessment.start": "started an assessment",
    "assessment.answer": "answered questions",
    "assessment.submit": "submitted an assessment",
    "assessment.approve": "approved an assessment",
    "assessment.return": "returned an assessment",
    "assessment.withdraw": "withdrew a submitted assessment",
    "exception.accept": "accepted an exception",
    "exception.expire": "recorded an expired exception",
    "exception.revoke": "revoked an exception",
    "review.trigger": "triggered a reassessment",
    "review.schedule": "scheduled the next review",
    "review.close": "closed a review",
    "review.assign": "assigned a review",
    "review.remind": "sent review reminders",
    "review.planned_change": "marked a planned change as landed",
    "calendar_feed.create": "created a calendar feed",
    "calendar_feed.revoke": "revoked a calendar feed",
    "report.issue": "issued a report",
    "report.board_pack": "made a board pack",
    "report.board_request": "requested a board pack",
    "report.signoff": "recorded a board's sign-off",
    "catalogue.add": "added to the catalogue",
    "catalogue.copy": "copied a catalogue version",
    "catalogue.create": "created a catalogue version",
    "catalogue.delete": "deleted from the catalogue",
    "catalogue.edit": "edited the catalogue",
    "catalogue.load": "loaded a catalogue version",
    "catalogue.make_current": "made a catalogue version current",
    "catalogue.update": "edited the catalogue",
    "auth.login": "signed in",
    "auth.logout": "signed out",
    "auth.login_failed": "failed to sign in",
    "auth.login_refused": "was refused sign-in",
    "auth.locked_out": "was locked out",
    "auth.session_expired": "was signed out when the session expired",
    "auth.sessions_ended": "ended their other sessions",
    "access.forbidden": "was refused access",
    "auth.login_sso": "signed in with single sign-on",
    "account.created": "created an account",
    "account.roles_added": "gave an account a role",
    "account.roles_removed": "took a role from an account",
    "account.teams_added": "added an account to a team",
    "team.create": "created a team",
    "team.change": "edited a team",
    "team.delete": "deleted a team",
    "reviewinterval.create": "set a tier's review interval",
    "reviewinterval.change": "changed a tier's review interval",
    "reviewinterval.delete": "removed a tier's review interval (the default applies)",
    "account.teams_removed": "took an account off a team",
    "account.superuser_granted": "made an account a superuser",
    "account.superuser_revoked": "took superuser status from an account",
    "account.staff_granted": "gave an account staff status",
    "account.staff_revoked": "took staff status from an account",
    "account.enabled": "enabled an account",
    "account.disabled": "disabled an account",
    "account.password_changed": "changed a password",
    "account.password_removed": "removed a password",
    "account.mfa_added": "enrolled a second factor",
    "account.mfa_removed": "removed a second factor",
    "notifications.preference": "changed how they are e-mailed",
    "notifications.read_all": "marked all their notifications read",
    "evidence.upload": "uploaded evidence",
    "evidence.queue": "sent evidence to be analysed",
    "evidence.accept": "accepted an answer from evidence",
    "evidence.reject": "rejected an answer from evidence",
    "api_token.create": "created an API token",
    "api_token.revoke": "revoked an API token",
    "api_token.refused": "was refused with a revoked or expired API token",
    "webhook.update": "changed a webhook endpoint",
    "webhook.resend": "sent a webhook delivery again",
    "review.overdue": "announced an overdue review",
    "exception.expiring": "announced an exception running out",
    "data.import": "restored a backup",
    "agent.ownership": "changed who answers for the agent",
    "agent.succession": "handed the agent to its successor after a person left",
    "agent.orphaned": "recorded the agent as orphaned: its owner or sponsor left",
    "agent.activity": "recorded when the agent was last seen acting",
    "agent.kept": "kept the idle agent when asked “Decommission?”",
    "agent.decommission": "decommissioned the agent: retired, its identity to be removed",
    "scim.person_provisioned": "provisioned a person by SCIM",
    "scim.person_changed": "changed a person by SCIM",
    "scim.person_deleted": "deleted a person by SCIM (the account is disabled)",
    "scim.group_provisioned": "provisioned a group by SCIM",
    "scim.group_changed": "changed a group's members by SCIM",
    "scim.group_deleted": "deleted a group by SCIM",
    "certification.start": "started an access certification",
    "certification.attest": "certified an agent's access",
    "certification.remind": "reminded owners of an access certification",
    "certification.escalate": "told sponsors of agents not certified by the deadline",
}

# Names of the fields audit events record changes to, beyond the answers.
FIELD_TITLES = {
    "based_on": "Based on version",
    "closed_by": "Closed by",
    "due_on": "Due on",
    "expires_on": "Expires on",
    "next_review_on": "Next review",
    "current_classification": "Class",
    "current_tier": "Tier",
    "credential_model": "Credential model",
    "lock_version": "Version",
    "review_comment": "Review comment",
    "exception_subjects": "Exceptions",
    "catalogue_version": "Catalogue version",
    "document_id": "Document id",
    "content_sha256": "Content fingerprint",
    "sha256": "Fingerprint",
}

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# "(key = value; key = value)": how the engine's sentences name the answers behind them.
_PAIRS = re.compile(r"\((?P<body>[a-z_]+ = (?:[^()]|\([^()]*\))*?)\)")
_PAIR_SPLIT = re.compile(r"; (?=[a-z_]+ = )")


def humanise(code: str) -> str:
    """The last resort for a code nobody named: "some_code.thing" -> "Some code thing"."""
    text = str(code).replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@cache
def _questionnaire() -> engine.Questionnaire:
    from assessments.workflow import decisions

    return decisions.questionnaire()


def _question(key: str) -> engine.Question | None:
    try:
        return _questionnaire().question(key)
    except KeyError:
        return None


def words(value: Any, kind: str = "value", key: str | None = None) -> str:
    """Any code in words.

    ``kind`` says what ``value`` is: ``answer`` (the value of answer ``key``),
    ``question`` or ``field`` (a key), ``flag``, ``signal``, ``classification``,
    ``control_status``, ``subject`` (a flag or control an exception covers), ``verb``
    (an audit verb), ``sentence`` (an engine sentence naming answers), or ``value``
    (anything else: booleans, lists, ids)."""
    if kind != "answer" and not isinstance(value, str | None):
        kind = "value"  # only codes are looked up; anything else is a plain value
    if kind == "answer":
        question = _question(key or "")
        if question is not None:
            return display_value(question, value)
        return words(value)
    if kind in ("question", "field"):
        return ANSWER_TITLES.get(value) or FIELD_TITLES.get(value) or humanise(value)
    if kind == "flag":
        return engine.FLAG_TITLES.get(value) or humanise(value)
    if kind == "signal":
        return engine.SIGNAL_TITLES.get(value) or humanise(value)
    if kind == "classification":
        return CLASSIFICATION_TITLES.get(value) or (
            NO_CLASSIFICATION_TITLE if not value else humanise(value)
        )
    if kind == "control_status":
        return CONTROL_STATUS_TITLES.get(value) or humanise(value)
    if kind == "subject":
        if value in engine.FLAG_TITLES:
            return engine.FLAG_TITLES[value]
        return str(value)
    if kind == "verb":
        return VERB_LABELS.get(value) or humanise(value).lower()
    if kind == "sentence":
        return sentence(str(value))
    # A plain value: booleans, nothing, lists and mappings read as words.
    if value is None or value == "":
        return "—"
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if isinstance(value, Mapping):
        return "; ".join(f"{words(k, 'field')}: {words(v)}" for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(words(v) for v in value) or "none"
    if isinstance(value, str) and SNAKE.fullmatch(value):
        for table in (CLASSIFICATION_TITLES, engine.FLAG_TITLES, engine.SIGNAL_TITLES):
            if value in table:
                return table[value]
        return humanise(value)
    return str(value)


def _pair_words(key: str, shown: str) -> str:
    """One ``key = value`` of an engine sentence, as "Short name: value in words"."""
    title = ANSWER_TITLES.get(key, humanise(key))
    question = _question(key)
    if shown == "unanswered":
        return f"{title}: not answered"
    if question is None or question.type in ("systems", "agents"):
        return f"{title}: {shown}"
    labels = {presented(o.value): o.label for o in question.options}
    if shown == "none" and question.type == "multichoice":
        return f"{title}: {(question.none_option or 'none').lower()}"
    parts = [labels.get(part, part) for part in shown.split(", ")]
    return f"{title}: {', '.join(parts)}"


def presented(value: Any) -> str:
    """A value as the engine's sentences print it (``format_value``)."""
    from assessments.engine.answers import format_value

    return format_value(value)


def sentence(text: str) -> str:
    """An engine sentence with the answers it names in words."""

    def pairs(match: re.Match[str]) -> str:
        items = _PAIR_SPLIT.split(match.group("body"))
        return "(" + "; ".join(_pair_words(*item.split(" = ", 1)) for item in items) + ")"

    text = _PAIRS.sub(pairs, text)
    return SNAKE.sub(
        lambda m: (
            words(m.group(0), "question") if m.group(0) in ANSWER_TITLES else words(m.group(0))
        ),
        text,
    )


def why(result: engine.Result) -> list[str]:
    """The rationale as sentences, leading with the decisive indicator when it fired,
    then the class, then the rest in the engine's order."""

    def rank(entry: Mapping[str, Any]) -> int:
        rule = str(entry.get("rule", ""))
        if rule == "signal.alters_own_access":
            return 0
        if rule.startswith("class."):
            return 1
        return 2

    ordered = sorted(result.explanations, key=rank)
    return [sentence(e["text"]) for e in ordered]


_CONTROL = dict.fromkeys([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029], " ")


def one_line(value: Any) -> str:
    """``value`` as one line of plain text: control characters become spaces, and runs
    of spaces one space. Every value placed in an e-mail's subject or body goes through
    this."""
    return " ".join(str(value if value is not None else "").translate(_CONTROL).split())


def form_value(value: Any) -> str:
    """An answer as a form field carries it ("true"/"false" for booleans)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def display_value(question: engine.Question, value: Any) -> str:
    """An answer in the questionnaire's own words."""
    if value is None:
        return "Not answered"
    labels = {form_value(o.value): o.label for o in question.options}
    if isinstance(value, list | tuple):
        if question.type == "systems":
            return ", ".join(f"{s['name']} ({s['access']})" for s in value) or "No systems"
        if question.type == "agents":
            return "; ".join(_linked_agent(a) for a in value) or "No linked agents"
        return ", ".join(labels.get(form_value(v), str(v)) for v in value) or (
            question.none_option or "None of these"
        )
    return labels.get(form_value(value), str(value))


def _linked_agent(agent: Any) -> str:
    """A linked agent: "slug", or with its systems "slug: grafana (read), jira (write)"."""
    if isinstance(agent, Mapping):
        systems = agent.get("systems") or []
        reach = ", ".join(f"{s['name']} ({s['access']})" for s in systems if isinstance(s, Mapping))
        return f"{agent['slug']}: {reach}" if reach else str(agent["slug"])
    return str(agent)
