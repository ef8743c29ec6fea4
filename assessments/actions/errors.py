"""The errors every action raises; their message is for the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ActionError(Exception):
    """A state change that is not allowed; the message is for the user."""


@dataclass
class ConflictError(ActionError):
    """Someone else saved first. ``fields`` maps field -> (their value, your value);
    ``labels`` gives a field's name in words where it is not already one (pages show
    ``rows``, the API the field names)."""

    message: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> list[tuple[str, Any, Any]]:
        return [
            (self.labels.get(k, k), theirs, yours) for k, (theirs, yours) in self.fields.items()
        ]

    # The object as saved now, when the rest of the write was applied (per-question saves).
    saved: Any = None

    def __str__(self) -> str:
        return self.message
