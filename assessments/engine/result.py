"""The engine's result: what the wizard's live panel, the API, the CLI and the PDF show."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .terms import BLOCKING_FLAGS, TIER_NAMES


@dataclass(frozen=True, slots=True)
class Result:
    """The engine's answer for one answer set.

    Attributes hold what :meth:`to_dict` returns, with tuples for lists and read-only
    mappings (entries may be shared between results). ``tier_name``, ``rationale``,
    ``provisional`` and ``decisive`` are derived, so they are properties.
    """

    classification: str
    tier: int
    review_interval_days: int
    signals: Mapping[str, bool | str]
    flags: tuple[str, ...]
    controls: tuple[Mapping[str, str], ...]
    framework_mappings: Mapping[str, tuple[str, ...]]
    unanswered: tuple[str, ...]
    missing: tuple[str, ...]
    evidence: Mapping[str, tuple[Mapping[str, Any], ...]]
    explanations: tuple[Mapping[str, Any], ...]
    catalogue_version: str

    @property
    def tier_name(self) -> str:
        return TIER_NAMES[self.tier]

    @property
    def rationale(self) -> tuple[str, ...]:
        """One plain sentence per rule that fired: the ``text`` of each explanation."""
        return tuple(e["text"] for e in self.explanations)

    @property
    def provisional(self) -> bool:
        """Some needed answer is missing, so the result may still change."""
        return bool(self.missing)

    @property
    def decisive(self) -> bool:
        """The decisive indicator fired: it can widen its own access path."""
        return self.signals["alters_own_access"] is True

    @property
    def blocking_flags(self) -> tuple[str, ...]:
        """Fired flags that stop approval without an accepted exception."""
        return tuple(f for f in self.flags if f in BLOCKING_FLAGS)

    @property
    def gaps(self) -> tuple[str, ...]:
        """Ids of required controls whose status is ``gap``."""
        return tuple(c["id"] for c in self.controls if c["status"] == "gap")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy: the decision-model fields first, then the extras."""
        return {
            "classification": self.classification,
            "tier": self.tier,
            "tier_name": self.tier_name,
            "review_interval_days": self.review_interval_days,
            "signals": dict(self.signals),
            "flags": list(self.flags),
            "controls": [dict(c) for c in self.controls],
            "framework_mappings": {k: list(v) for k, v in self.framework_mappings.items()},
            "rationale": list(self.rationale),
            "provisional": self.provisional,
            "unanswered": list(self.unanswered),
            "missing": list(self.missing),
            "decisive": self.decisive,
            "evidence": {
                name: [{"key": e["key"], "value": _plain(e["value"])} for e in items]
                for name, items in self.evidence.items()
            },
            "explanations": [
                {"rule": e["rule"], "text": e["text"], "keys": list(e["keys"])}
                for e in self.explanations
            ],
            "catalogue_version": self.catalogue_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Rebuild a result stored with :meth:`to_dict` (e.g. one frozen at submission).

        The derived fields (tier_name, rationale, provisional, decisive) are recomputed.
        """
        return cls(
            classification=data["classification"],
            tier=data["tier"],
            review_interval_days=data["review_interval_days"],
            signals=dict(data["signals"]),
            flags=tuple(data["flags"]),
            controls=tuple(dict(c) for c in data["controls"]),
            framework_mappings={k: tuple(v) for k, v in data["framework_mappings"].items()},
            unanswered=tuple(data["unanswered"]),
            missing=tuple(data["missing"]),
            evidence={k: tuple(dict(e) for e in v) for k, v in data["evidence"].items()},
            explanations=tuple(
                {"rule": e["rule"], "text": e["text"], "keys": tuple(e["keys"])}
                for e in data["explanations"]
            ),
            catalogue_version=data["catalogue_version"],
        )


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _slot_writer() -> Callable[..., Result]:
    """A constructor for Result that takes the fields positionally, in declaration order.

    A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``,
    about 2 µs for these twelve on CPython 3.13: a tenth of an evaluation. evaluate()
    sits on the live panel's hot path, so it writes the slots through their descriptors
    instead; the object is the same, and just as frozen afterwards.
    """
    setters = tuple(getattr(Result, f.name).__set__ for f in fields(Result))
    new = object.__new__

    def make(*values: Any) -> Result:
        result = new(Result)
        for set_slot, value in zip(setters, values, strict=True):
            set_slot(result, value)
        return result

    return make


make_result = _slot_writer()
