"""What every reader shares: the identity record, its signals, agent-likeness, the data.

Pure Python (no Django), like :mod:`assessments.evidence`, whose safe loading and
dataclasses (``EvidenceFile``, ``Evidence``) are reused as they are.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from assessments.evidence.common import Evidence

DATA_FILE = Path(__file__).with_name("signals.yaml")

SIGNALS: tuple[str, ...] = (
    "model_access",
    "tool_reach",
    "delegates",
    "alters_own_access",
    "declared_agent",
)
# What makes an identity a candidate, and what makes a candidate likely (the contract).
CANDIDATE = frozenset({"model_access", "declared_agent"})
ACTING = frozenset({"tool_reach", "delegates", "alters_own_access"})
LIKELY, POSSIBLE, NO = "likely", "possible", "no"


class DiscoveryError(ValueError):
    """A file that cannot be read for discovery. ``str()`` names the file and says why."""

    def __init__(self, file: str, message: str):
        self.file = file
        self.message = message
        super().__init__(f"{file}: {message}")


class Data:
    """The signal lists of ``signals.yaml``, with their patterns compiled once."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self._lists = {k: tuple(str(x) for x in v) for k, v in raw.items() if isinstance(v, list)}
        self._lower = {k: frozenset(x.lower() for x in v) for k, v in self._lists.items()}
        self._compiled: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}

    def list(self, key: str) -> tuple[str, ...]:
        return self._lists.get(key, ())

    def lower(self, key: str) -> frozenset[str]:
        return self._lower.get(key, frozenset())

    def matches(self, key: str, value: str) -> str | None:
        """The first pattern of list ``key`` that ``value`` matches (case-insensitive)."""
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = tuple((p, re.compile(fnmatch.translate(p.lower()))) for p in self.list(key))
            self._compiled[key] = compiled
        text = value.lower()
        for pattern, regex in compiled:
            if regex.match(text):
                return pattern
        return None


@functools.cache
def data() -> Data:
    return Data(yaml.safe_load(DATA_FILE.read_text(encoding="utf-8")))


@dataclass(slots=True)
class Identity:
    """One workload identity as a reader found it."""

    external_id: str
    name: str
    kind: str  # aws | kubernetes | gcp | entra
    type: str  # role, user, service account, service principal
    created: dt.date | None = None
    last_used: dt.date | None = None
    last_used_from: str = ""
    owner_hint: str = ""
    where: Evidence | None = None  # where the identity itself is in the files
    signals: dict[str, list[Evidence]] = field(default_factory=dict)
    grants: list[Any] = field(default_factory=list)  # normalised, for the change hash
    details: dict[str, Any] = field(default_factory=dict)  # images, env names, ...

    def signal(self, name: str, evidence: Iterable[Evidence]) -> None:
        lines = list(dict.fromkeys(evidence))
        if lines:
            self.signals.setdefault(name, []).extend(
                e for e in lines if e not in self.signals.get(name, [])
            )

    @property
    def agent_like(self) -> str:
        return agent_like(self.signals)

    def signals_list(self) -> list[dict[str, Any]]:
        return [
            {"signal": s, "evidence": [e.to_dict() for e in self.signals[s]]}
            for s in SIGNALS
            if self.signals.get(s)
        ]

    def grant_hash(self) -> str:
        """A hash of the normalised grants and the signals that hold: what "changed" means."""
        payload = {
            "grants": sorted(orjson.dumps(g, option=orjson.OPT_SORT_KEYS) for g in self.grants),
            "signals": sorted(s for s in SIGNALS if self.signals.get(s)),
        }
        blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=bytes.decode)
        return hashlib.sha256(blob).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "name": self.name,
            "type": self.type,
            "created": self.created.isoformat() if self.created else None,
            "last_used": self.last_used.isoformat() if self.last_used else None,
            "last_used_from": self.last_used_from,
            "owner_hint": self.owner_hint,
            "agent_like": self.agent_like,
            "signals": self.signals_list(),
        }


def agent_like(signals: Mapping[str, Any]) -> str:
    """``likely`` when model access or a declaration holds with any of tool reach,
    delegation or self-alteration; ``possible`` when it holds alone; ``no`` otherwise."""
    held = {s for s, lines in signals.items() if lines}
    if held & CANDIDATE:
        return LIKELY if held & ACTING else POSSIBLE
    return NO


@dataclass(slots=True)
class Reading:
    """Everything one run of a reader found."""

    kind: str
    source: str
    identities: list[Identity]
    # Names of the files the evidence analysers read for one identity's proposals.
    evidence_files: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        likes = [i.agent_like for i in self.identities]
        return {
            "identities": len(self.identities),
            "likely": likes.count(LIKELY),
            "possible": likes.count(POSSIBLE),
        }


# --------------------------------------------------------------------------- helpers


def parse_date(value: Any) -> dt.date | None:
    """A date from an ISO timestamp or date (``2026-03-01T10:00:00Z``, ``2026-03-01``)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def latest(*dates: dt.date | None) -> dt.date | None:
    found = [d for d in dates if d is not None]
    return max(found) if found else None


TRUE_WORDS = frozenset({"", "true", "yes", "1", "y", "on"})


def declared(labels: Mapping[str, Any], file: str, where: str, what: str) -> list[Evidence]:
    """Evidence lines for tags, labels or annotations that declare an agent."""
    words = data().lower("tag_words")
    keys = data().lower("declaring_keys")
    found = []
    for key, value in labels.items():
        k = str(key).lower()
        v = str(value if value is not None else "").strip().lower()
        short = k.rsplit("/", 1)[-1]
        if (k in words or short in words) and v in TRUE_WORDS | words:
            found.append(Evidence(file, where, f"{what} {key}: {value!s} declares an agent"))
        elif (k in keys or short in keys) and v in words:
            found.append(Evidence(file, where, f"{what} {key}: {value} declares an agent"))
    return found


def owner_from(labels: Mapping[str, Any]) -> str:
    lowered = {str(k).lower(): v for k, v in labels.items()}
    for key in data().list("owner_keys"):
        value = lowered.get(key.lower())
        if value not in (None, ""):
            return str(value)[:200]
    return ""


def aws_tags(record: Mapping[str, Any]) -> dict[str, str]:
    tags = record.get("Tags")
    out: dict[str, str] = {}
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and "Key" in tag:
                out[str(tag["Key"])] = str(tag.get("Value") or "")
    elif isinstance(tags, dict):
        out = {str(k): str(v) for k, v in tags.items()}
    return out
