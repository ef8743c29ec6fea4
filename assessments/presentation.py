"""How engine results and answers read to people: shared by pages, PDF reports, CSV
exports and e-mails. ``words`` is the one function that turns any code a person could
meet (an answer value, a flag, a signal, a rule's sentence, an audit verb or field)
into words; templates use it through the ``words`` filter."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from assessments import engine
from assessments.engine.sentences import CLASS_KEYS
from assessments.engine.terms import (
    ANSWER_TITLES,
    CLASSIFICATION_TITLES,
    CONTROL_STATUS_TITLES,
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
    from assessments import decisions

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
            "Not assessed" if not value else humanise(value)
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


CLASS_NAMES = {"agent_identity": "Agent identity", "machine_identity": "Machine identity"}
TIER_LABELS = {4: "4 · Critical", 3: "3 · High", 2: "2 · Elevated", 1: "1 · Baseline"}
CLASS_MEANING = {
    "agent_identity": "Govern it as a distinct AI-agent identity: its own workload identity, "
    "short-lived credentials, policy evaluated at request time, per-action audit and "
    "containment.",
    "machine_identity": "Ordinary machine-identity controls are enough: a least-privilege "
    "service account with a named owner, vaulted secrets, access review and activity logging.",
}
# A machine identity at the critical tier: what must be reviewed, never "enough".
TIER4_MACHINE_MEANING = {
    "composite_escalation": "Ordinary machine-identity controls are not enough here: "
    "together with the agents it is linked to, it reaches more systems or higher access "
    "than it does alone. Review the combined privileges of the orchestration (what each "
    "linked agent can reach through it), and contain them, before relying on this class.",
    "containment_breakdown": "Ordinary machine-identity controls are not enough here: it "
    "finds tools at runtime with a broad role or network reach. Review and contain its "
    "tools, role and network reach.",
}
UNDECIDED_MEANING = (
    "Nothing is decided yet: answer the questions that could change the class. A missing "
    "answer is never read as the safe value."
)


@dataclass(frozen=True)
class Headline:
    """What a result says first, on every surface (panel, assessment page, agent list,
    CSV, PDF, ``assess --format text``): one wording, made only here."""

    decided: bool  # False while a missing answer could still change the class
    title: str  # "Undecided — 3 answers could change the class" or the class name
    leaning: str  # secondary: the class the answers given so far lean to ("" if decided)
    tier: str  # "2 · Elevated", or "at least 2 · Elevated" when it could still rise
    tier_at_least: bool
    meaning: str  # what it asks for

    @property
    def text(self) -> str:
        """One line for plain-text surfaces (CSV, the command line)."""
        parts = [self.title]
        if self.leaning:
            parts.append(self.leaning)
        parts.append(f"tier {self.tier}")
        return "; ".join(parts)


def undecided_title(n: int) -> str:
    return f"Undecided — {n} answer{'s' if n != 1 else ''} could change the class"


def headline(result: engine.Result, answers: Mapping[str, Any] | None = None) -> Headline:
    """The headline of ``result``. ``answers`` (what the engine was given) tell whether
    the missing ones could raise the tier; without them a provisional tier below
    critical reads "at least", since a missing answer is never read as the safe value."""
    cls = CLASS_NAMES[result.classification]
    tier_label = TIER_LABELS[result.tier]
    at_least = bool(result.missing) and result.tier < 4
    if at_least and answers is not None:
        at_least = engine.tier_ceiling(answers, result) > result.tier
    tier = f"at least {tier_label}" if at_least else tier_label
    if result.unanswered:
        # With no class-deciding answer given, nothing leans either way yet.
        nothing_given = len(result.unanswered) == len(CLASS_KEYS)
        return Headline(
            decided=False,
            title=undecided_title(len(result.unanswered)),
            leaning="No answer so far leans to either class"
            if nothing_given
            else f"The answers so far lean to {cls.lower()}",
            tier=tier,
            tier_at_least=at_least,
            meaning=UNDECIDED_MEANING,
        )
    meaning = CLASS_MEANING[result.classification]
    if result.classification == "machine_identity" and result.blocking_flags and result.tier < 4:
        meaning = (
            "Ordinary machine-identity controls are not enough while a blocking flag stands: "
            "resolve it, or accept an exception, before relying on this class."
        )
    if result.classification == "machine_identity" and result.tier == 4:
        meaning = next(
            (TIER4_MACHINE_MEANING[f] for f in result.flags if f in TIER4_MACHINE_MEANING),
            "Ordinary machine-identity controls are not enough at the critical tier: "
            "review what raised it before relying on this class.",
        )
    return Headline(
        decided=True,
        title=cls,
        leaning="",
        tier=tier,
        tier_at_least=at_least,
        meaning=meaning,
    )


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


# The answers each signal reads (decision-model.md, "Signals").
SIGNAL_INPUTS: dict[str, tuple[str, ...]] = {
    "runtime_decisions": (
        "decision_mode",
        "tool_selection",
        "crosses_environments",
        "calls_external_apis",
        "hybrid_pipeline",
        "model_steps_self_direct",
    ),
    "per_task_access": ("decides_own_scopes",),
    "unattended_reach": ("systems", "human_approval"),
    "traceability": ("traced_identity", "traced_policy_decision", "traced_audit_record"),
    "alters_own_access": ("alters_own_access",),
}
NOT_ANSWERED = "Not answered"
NOT_FULLY_ANSWERED = "Not fully answered"


def signal_word(name: str, value: Any) -> str:
    """A signal's value in words: "Yes"/"No", or the traceability level."""
    if name == "traceability":
        return str(value).capitalize()
    return "Yes" if value is True else "No"


def signal_states(
    result: engine.Result, answers: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """How each signal reads: ``shown`` (words), ``fired``, ``open`` (a missing answer
    could still change it: shown muted, never as the safe value) and ``missing`` (the
    titles of its unanswered questions).

    A signal that has not fired is "No" only when no completion of the missing answers
    could fire it (the rules are monotone, so the worst completion tells); otherwise it
    is "Not answered" (none of its questions answered) or "Not fully answered".
    Traceability counts a missing item as not traced, so with items missing it reads
    "at least" the level the given ones show."""
    missing = set(result.missing)
    worst: engine.Result | None = None
    if answers is not None and missing:
        worst = engine.evaluate(engine.worst_completion(answers, result.missing))
    states: dict[str, dict[str, Any]] = {}
    for name, value in result.signals.items():
        inputs = SIGNAL_INPUTS.get(name, ())
        gone = [k for k in inputs if k in missing]
        titles = [words(k, "question") for k in gone]
        if name == "traceability":
            if len(gone) == len(inputs):
                state = {"shown": NOT_ANSWERED, "fired": False, "open": True}
            elif gone and value != "none":
                state = {"shown": f"At least {value}", "fired": False, "open": True}
            elif gone:
                state = {"shown": NOT_FULLY_ANSWERED, "fired": False, "open": True}
            else:
                state = {"shown": signal_word(name, value), "fired": value != "full", "open": False}
        elif value is True:
            state = {"shown": "Yes", "fired": True, "open": False}
        elif worst is not None and worst.signals.get(name) is not True:
            state = {"shown": "No", "fired": False, "open": False}
        elif gone:
            if answers is not None:
                given = any(answers.get(k) is not None for k in inputs)
            else:
                given = len(gone) < len(inputs)
            shown = NOT_FULLY_ANSWERED if given else NOT_ANSWERED
            state = {"shown": shown, "fired": False, "open": True}
        else:
            state = {"shown": "No", "fired": False, "open": False}
        states[name] = {**state, "missing": titles if state["open"] else []}
    return states


def proposed_answers(answers: Mapping[str, Any], key: str, value: Any) -> dict[str, Any] | None:
    """``answers`` as they would be once a proposal of ``value`` for ``key`` is
    accepted (systems are merged into the inventory, never lowered), or None when
    accepting it would change nothing."""
    if key == "systems":
        rank = {"read": 1, "write": 2, "admin": 3}
        merged = {
            str(s["name"]).lower(): dict(s)
            for s in answers.get("systems") or []
            if isinstance(s, Mapping)
        }
        before = {k: dict(v) for k, v in merged.items()}
        for system in value or []:
            found = merged.get(str(system["name"]).lower())
            if found is None or rank[system["access"]] > rank.get(found["access"], 0):
                merged[str(system["name"]).lower()] = {
                    "name": found["name"] if found else system["name"],
                    "access": system["access"],
                }
        return None if merged == before else {**answers, "systems": list(merged.values())}
    if answers.get(key) == value:
        return None
    return {**answers, key: value}


def proposals_by_signal(
    result: engine.Result,
    q: engine.Questionnaire,
    answers: Mapping[str, Any] | None,
    pending: Sequence[Mapping[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """Signal -> the pending evidence proposals that would change it once accepted:
    "Evidence proposes Yes, awaiting your decision", with the answer it proposes."""
    found: dict[str, list[dict[str, Any]]] = {}
    if answers is None:
        return found
    for proposal in pending:
        key = proposal["key"]
        after = proposed_answers(answers, key, proposal["value"])
        if after is None:
            continue
        try:
            changed = engine.evaluate(after).signals
        except (KeyError, TypeError, ValueError):
            continue  # a proposal the engine cannot read changes no signal
        try:
            answer = display_value(q.question(key), proposal["value"])
        except KeyError:
            answer = words(proposal["value"])
        for name, value in changed.items():
            if value == result.signals.get(name):
                continue
            found.setdefault(name, []).append(
                {
                    "text": f"Evidence proposes {signal_word(name, value)}, awaiting your decision",
                    "answer": f"{words(key, 'question')}: {answer}",
                    "source": proposal.get("source", ""),
                    "url": proposal.get("url", ""),
                }
            )
    return found


def panel_context(
    result: engine.Result,
    q: engine.Questionnaire,
    catalogue: engine.Catalogue | None = None,
    from_evidence: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    answers: Mapping[str, Any] | None = None,
    pending: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The decision panel: the live one in the wizard, the frozen one on the assessment
    page, and the same facts in the PDF. ``catalogue`` names the frameworks;
    ``from_evidence`` (``provenance.answers_from_evidence``) marks the answers that
    came from evidence files; ``answers`` (what the engine was given) let the headline
    tell whether the tier could rise and a signal whether it is settled; ``pending``
    (``provenance.pending_from_evidence``) are evidence proposals awaiting a decision,
    shown beside the signals they would change."""
    labels = {question.id: question.prompt for question in q.questions}
    from_evidence = from_evidence or {}
    evidence = {
        name: [
            {
                "key": e["key"],
                "title": words(e["key"], "question"),
                "value": display_value(q.question(e["key"]), e["value"])
                if e["key"] in labels
                else words(e["value"]),
                "from_evidence": e["key"] in from_evidence,
            }
            for e in items
        ]
        for name, items in result.evidence.items()
    }
    states = signal_states(result, answers)
    proposed = proposals_by_signal(result, q, answers, pending or ())
    signals = [
        {
            "id": name,
            "title": engine.SIGNAL_TITLES.get(name, name),
            "value": value,
            **states[name],
            "description": engine.SIGNAL_DESCRIPTIONS.get(name, ""),
            "evidence": evidence.get(name, []),
            "proposals": proposed.get(name, []),
        }
        for name, value in result.signals.items()
    ]
    flags = [
        {
            "id": flag,
            "title": engine.FLAG_TITLES.get(flag, flag),
            "description": engine.FLAG_DESCRIPTIONS.get(flag, ""),
            "blocking": flag in engine.BLOCKING_FLAGS,
            "evidence": evidence.get(flag, []),
        }
        for flag in result.flags
    ]
    return {
        "result": result,
        "headline": headline(result, answers),
        "why": why(result),
        "signals": signals,
        "flags": flags,
        "mappings": _mappings(result.framework_mappings, catalogue),
        "unanswered_prompts": [(k, labels.get(k, k)) for k in result.unanswered],
        "missing_prompts": [(k, labels.get(k, k)) for k in result.missing],
        "gap_count": len(result.gaps),
        "from_evidence": [
            {
                **item,
                "prompt": labels.get(key, key),
                "display": display_value(q.question(key), item["value"])
                if key in labels
                else str(item["value"]),
            }
            for key, item in from_evidence.items()
        ],
    }


def _mappings(
    mappings: Mapping[str, tuple[str, ...]], catalogue: engine.Catalogue | None
) -> list[dict[str, Any]]:
    """Framework items the required controls map to, framework by framework."""
    names = {f.key: f.short_name for f in catalogue.frameworks} if catalogue else {}
    return [
        {"key": key, "name": names.get(key, key), "items": list(items)}
        for key, items in mappings.items()
    ]


# Control characters (CR, LF, NUL, ESC ...) and the Unicode line and paragraph
# separators: a value with one of these could add a header to an e-mail or forge a
# line of its body.
_CONTROL = dict.fromkeys([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029], " ")


def one_line(value: Any) -> str:
    """``value`` as one line of plain text: control characters become spaces, and runs
    of spaces one space. Every value placed in an e-mail's subject or body goes through
    this."""
    return " ".join(str(value if value is not None else "").translate(_CONTROL).split())


def stored_headline(answers: Mapping[str, Any] | None, questionnaire_version: str) -> Headline:
    """The headline of an assessment in progress from its stored answers alone (for
    lists and exports, which do not read each agent's inventory). The class and the
    answers that could change it never come from the inventory, so the title and the
    leaning are the live panel's; the tier may still move with the inventory, so it
    reads "at least" whenever answers are missing."""
    from assessments import decisions  # decisions reads the database; imported late

    q = decisions.questionnaire(questionnaire_version)
    return headline(engine.evaluate(decisions.visible_answers(q, answers or {})))


def _change_value(key: str, value: Any) -> str:
    if isinstance(value, Mapping) and value and set(value) <= {"old", "new"}:
        return f"{_change_value(key, value.get('old'))} → {_change_value(key, value.get('new'))}"
    if key in ANSWER_TITLES and _question(key) is not None:
        return words(value, "answer", key)
    if key in ("classification", "current_classification"):
        return words(value, "classification")
    if key in ("flags", "flag"):
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(words(v, "flag") for v in values) or "none"
    if key in ("subject", "subjects", "exception_subjects"):
        values = value if isinstance(value, list | tuple) else [value]
        return ", ".join(words(v, "subject") for v in values) or "none"
    if isinstance(value, Mapping):
        return "; ".join(f"{words(k, 'field')}: {_change_value(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
        return "; ".join(_change_value(key, v) for v in value)
    if isinstance(value, str) and (when := page_date(value)):
        return when
    return words(value)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
)


def page_date(value: str) -> str:
    """An ISO date or date-time recorded as text (audit changes) in the pages' format:
    "6 Mar 2027", or "6 Mar 2027 23:35" in the site's time zone; "" if it is not one."""
    from django.utils import dateformat, timezone
    from django.utils.dateparse import parse_date, parse_datetime

    try:
        if _ISO_DATETIME.fullmatch(value):
            moment = parse_datetime(value)
            if moment is not None:
                if timezone.is_aware(moment):
                    moment = timezone.localtime(moment)
                return dateformat.format(moment, "j M Y H:i")
        if _ISO_DATE.fullmatch(value):
            day = parse_date(value)
            if day is not None:
                return dateformat.format(day, "j M Y")
    except ValueError:
        return ""  # looks like a date but is not one (2027-02-30): shown as given
    return ""


def change_rows(changes: Any) -> list[tuple[str, str]]:
    """An audit event's recorded change as (what, how) rows in words."""
    if not isinstance(changes, Mapping):
        return [("Change", words(changes))] if changes else []
    return [(words(key, "field"), _change_value(key, value)) for key, value in changes.items()]


def actor_name(event: Any) -> str:
    """Who did it, by name: the person's full name when the event's actor still exists
    and has one (load events with ``select_related("actor")``), else the username
    recorded with the event ("system" for the application itself)."""
    actor = event.actor if event.actor_id else None
    name = actor.get_full_name() if actor is not None else ""
    return name or event.actor_label


def history(events: Any) -> list[dict[str, Any]]:
    """Audit events as a person reads a history: consecutive answers saved by the same
    person are one entry ("answered 7 questions"), with the saves inside it."""
    entries: list[dict[str, Any]] = []
    for event in events:
        last = entries[-1] if entries else None
        if (
            event.verb == "assessment.answer"
            and last is not None
            and last["verb"] == "assessment.answer"
            and last["actor_id"] == event.actor_id
        ):
            last["events"].append(event)
            last["keys"].update(event.changes or {})
            last["last_at"] = event.created_at
        else:
            entries.append(
                {
                    "verb": event.verb,
                    "actor_id": event.actor_id,
                    "actor_label": actor_name(event),
                    "created_at": event.created_at,
                    "last_at": event.created_at,
                    "events": [event],
                    "keys": set(event.changes or {})
                    if event.verb == "assessment.answer"
                    else set(),
                }
            )
    for entry in entries:
        if entry["verb"] == "assessment.answer":
            n = len(entry["keys"])
            entry["label"] = f"answered {n} question{'s' if n != 1 else ''}"
        else:
            entry["label"] = words(entry["verb"], "verb")
        entry["grouped"] = len(entry["events"]) > 1
    return entries
