"""Answer keys, their allowed values, and strict validation of an answer set.

The keys and values are the public contract of ../shared/decision-model.md: the
wizard, the manifest, the API and the reports all speak them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHOICE = "choice"
BOOLEAN = "boolean"
SYSTEMS = "systems"
AGENTS = "agents"
MULTICHOICE = "multichoice"

ACCESS_LEVELS: tuple[str, ...] = ("read", "write", "admin")
ACCESS_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}
BOOL_VALUES: tuple[bool, ...] = (True, False)

# key -> (type, allowed values). For ``systems`` the values are the access levels,
# for ``planned_changes`` the allowed list members; ``linked_agents`` takes slugs.
_CONTRACT_SPECS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "decision_mode": (
        CHOICE,
        ("fixed_script", "model_assisted", "context_driven", "planner_executor"),
    ),
    "tool_selection": (
        CHOICE,
        ("none", "fixed", "chooses_from_allowlist", "discovers_dynamically"),
    ),
    "crosses_environments": (BOOLEAN, BOOL_VALUES),
    "calls_external_apis": (BOOLEAN, BOOL_VALUES),
    "credential_model": (
        CHOICE,
        (
            "static_secret",
            "vaulted_rotated",
            "workload_identity",
            "per_task_tokens",
            "user_delegated",
        ),
    ),
    "decides_own_scopes": (BOOLEAN, BOOL_VALUES),
    "alters_own_access": (BOOLEAN, BOOL_VALUES),
    "shared_platform_role": (BOOLEAN, BOOL_VALUES),
    "systems": (SYSTEMS, ACCESS_LEVELS),
    "human_approval": (CHOICE, ("every_action", "high_impact_only", "none")),
    "delegated_approval": (BOOLEAN, BOOL_VALUES),
    "network_reach": (CHOICE, ("isolated", "allowlisted", "internal_broad", "internet")),
    "traced_identity": (CHOICE, ("all", "some", "none")),
    "traced_policy_decision": (CHOICE, ("all", "some", "none")),
    "traced_audit_record": (CHOICE, ("all", "some", "none")),
    "orchestration": (
        CHOICE,
        ("standalone", "orchestrates_agents", "orchestrated_by_agent", "peer_mesh"),
    ),
    "linked_agents": (AGENTS, ()),
    "hybrid_pipeline": (BOOLEAN, BOOL_VALUES),
    "model_steps_self_direct": (BOOLEAN, BOOL_VALUES),
    "planned_changes": (
        MULTICHOICE,
        (
            "write_access",
            "tool_chaining",
            "delegated_approval",
            "new_systems",
            "dynamic_tools",
            "autonomy_increase",
        ),
    ),
}

# Optional questions of our own: they never change class, tier or flags; they only let
# a control show ``in_place`` or ``gap`` instead of ``unknown``.
_CONTROL_SPECS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "policy_enforcement": (CHOICE, ("none", "static_roles", "policy_as_code", "intent_aware")),
    "kill_switch": (BOOLEAN, BOOL_VALUES),
    "access_review": (CHOICE, ("none", "annual", "quarterly")),
    "admin_sessions_brokered": (BOOLEAN, BOOL_VALUES),
}

CONTRACT_KEYS: tuple[str, ...] = tuple(_CONTRACT_SPECS)
CONTROL_KEYS: tuple[str, ...] = tuple(_CONTROL_SPECS)
ANSWER_KEYS: tuple[str, ...] = CONTRACT_KEYS + CONTROL_KEYS

ANSWER_TYPES: dict[str, str] = {k: t for k, (t, _) in (_CONTRACT_SPECS | _CONTROL_SPECS).items()}
ALLOWED_VALUES: dict[str, tuple[Any, ...]] = {
    k: v for k, (_, v) in (_CONTRACT_SPECS | _CONTROL_SPECS).items()
}

_ALLOWED_SETS: dict[str, frozenset[Any]] = {k: frozenset(v) for k, v in ALLOWED_VALUES.items()}
_KEY_SET = frozenset(ANSWER_KEYS)


def format_value(value: Any) -> str:
    """An answer value as a board would read it: booleans yes/no, lists joined."""
    if value is None:
        return "unanswered"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list | tuple):
        if not value:
            return "none"
        parts = []
        for item in value:
            # Validated items are dicts; the ABC check behind Mapping is slow.
            if type(item) is dict or isinstance(item, Mapping):
                if "access" in item:
                    parts.append(f"{item['name']} ({item['access']})")
                else:
                    parts.append(str(item["slug"]))
            else:
                parts.append(str(item))
        return ", ".join(parts)
    return str(value)


def _show(value: Any) -> str:
    """A rejected value, quoted so that its type is visible in the message."""
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def _format_allowed(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AnswerError(ValueError):
    """An answer set that breaks the contract.

    ``key`` is the answer key at fault (None when the whole set is not a mapping),
    ``message`` says what is wrong, ``allowed`` lists what would be accepted.
    ``str()`` is one sentence naming the key and the allowed values.
    """

    def __init__(
        self,
        key: str | None,
        message: str,
        allowed: tuple[str, ...] | None = None,
        *,
        noun: str = "values",
    ):
        self.key = key
        self.message = message
        self.allowed = allowed
        text = message
        if allowed:
            text = f"{message}; allowed {noun}: {', '.join(allowed)}."
        elif not text.endswith("."):
            text += "."
        super().__init__(text)


def _allowed_strings(key: str) -> tuple[str, ...]:
    return tuple(_format_allowed(v) for v in ALLOWED_VALUES[key])


def _validate_choice(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise AnswerError(
            key,
            f"Answer {key!r} must be one of its listed values, not {_show(value)}",
            _allowed_strings(key),
        )
    if value not in _ALLOWED_SETS[key]:
        raise AnswerError(key, f"Answer {key!r} cannot be {value!r}", _allowed_strings(key))
    return value


def _validate_boolean(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise AnswerError(
            key, f"Answer {key!r} must be true or false, not {_show(value)}", ("true", "false")
        )
    return value


def _require_list(key: str, value: Any, what: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise AnswerError(key, f"Answer {key!r} must be a list of {what}, not {_show(value)}")
    return value


def _validate_systems(key: str, value: Any, label: str | None = None) -> list[dict[str, str]]:
    """``label`` names the list in messages when it sits inside another answer."""
    label = label or repr(key)
    if not isinstance(value, list | tuple):
        raise AnswerError(
            key,
            f"Answer {label} must be a list of systems, each with a name and an access level, "
            f"not {_show(value)}",
        )
    seen: dict[str, str] = {}
    result = []
    for position, item in enumerate(value, start=1):
        where = f"{label} item {position}"
        if not isinstance(item, Mapping):
            raise AnswerError(
                key,
                f"Answer {where} must be a mapping with 'name' and 'access', not {_show(item)}",
                ACCESS_LEVELS,
            )
        extra = sorted(str(k) for k in item if k not in ("name", "access"))
        if extra:
            raise AnswerError(
                key,
                f"Answer {where} has unknown field(s) {', '.join(extra)}; a system has only "
                "'name' and 'access'",
                ACCESS_LEVELS,
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AnswerError(
                key, f"Answer {where} needs a non-empty 'name' (text); got {_show(name)}"
            )
        name = name.strip()
        access = item.get("access")
        if not isinstance(access, str) or access not in ACCESS_RANK:
            raise AnswerError(
                key,
                f"Answer {where} ({name}) needs an access level; got {_show(access)}",
                ACCESS_LEVELS,
            )
        folded = name.casefold()
        if folded in seen:
            raise AnswerError(
                key,
                f"Answer {label} lists the system {name!r} twice (also as {seen[folded]!r}); "
                "give each system once, with its highest access level",
            )
        seen[folded] = name
        result.append({"name": name, "access": access})
    return result


def _validate_linked_agents(key: str, value: Any) -> list[dict[str, Any]]:
    items = _require_list(key, value, "agent slugs or {slug, systems} mappings")
    seen: set[str] = set()
    result: list[dict[str, Any]] = []
    for position, item in enumerate(items, start=1):
        where = f"{key!r} item {position}"
        systems: list[dict[str, str]] | None = None
        if isinstance(item, str):
            slug: Any = item
        elif isinstance(item, Mapping):
            extra = sorted(str(k) for k in item if k not in ("slug", "systems"))
            if extra:
                raise AnswerError(
                    key,
                    f"Answer {where} has unknown field(s) {', '.join(extra)}; a linked agent "
                    "has only 'slug' and optionally 'systems'",
                )
            slug = item.get("slug")
            if item.get("systems") is not None:
                systems = _validate_systems(key, item["systems"], f"{where} 'systems'")
        else:
            raise AnswerError(
                key,
                f"Answer {where} must be a slug or a {{slug, systems}} mapping, not {_show(item)}",
            )
        if not isinstance(slug, str) or not slug.strip():
            raise AnswerError(
                key, f"Answer {where} needs a non-empty 'slug' (text); got {_show(slug)}"
            )
        slug = slug.strip()
        if slug in seen:
            raise AnswerError(key, f"Answer {key!r} lists the agent {slug!r} twice")
        seen.add(slug)
        result.append({"slug": slug, "systems": systems})
    return result


def _validate_multichoice(key: str, value: Any) -> list[str]:
    items = _require_list(key, value, "values")
    allowed = _ALLOWED_SETS[key]
    result: list[str] = []
    for item in items:
        if not isinstance(item, str) or item not in allowed:
            raise AnswerError(
                key, f"Answer {key!r} cannot contain {_show(item)}", _allowed_strings(key)
            )
        if item in result:
            raise AnswerError(key, f"Answer {key!r} lists {item!r} twice", _allowed_strings(key))
        result.append(item)
    return result


_VALIDATORS = {
    CHOICE: _validate_choice,
    BOOLEAN: _validate_boolean,
    SYSTEMS: _validate_systems,
    AGENTS: _validate_linked_agents,
    MULTICHOICE: _validate_multichoice,
}


def validate_answers(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check an answer set against the contract and return a normalised copy.

    Missing keys stay missing and ``None`` counts as missing (it is dropped), so a
    partial answer set is valid. Anything else outside the contract raises
    :class:`AnswerError`: an unknown key is an error, never ignored.
    """
    if not isinstance(raw, Mapping):
        raise AnswerError(None, f"Answers must be a mapping of answer keys, not {_show(raw)}")
    unknown = [k for k in raw if k not in _KEY_SET]
    if unknown:
        key = unknown[0]
        raise AnswerError(
            str(key),
            f"Unknown answer key {key!r} (an unknown key is an error, not ignored)",
            ANSWER_KEYS,
            noun="keys",
        )
    result: dict[str, Any] = {}
    for key in ANSWER_KEYS:
        value = raw.get(key)
        if value is not None:
            result[key] = _VALIDATORS[ANSWER_TYPES[key]](key, value)
    return result
