"""The errors every action raises; their message is for the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ActionError(Exception):
    """A state change that is not allowed; the message is for the user."""


@dataclass
class ConflictError(ActionError):
    """Someone else saved first. ``fields`` maps field -> (their value, your value)."""

    message: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # The object as saved now, when the rest of the write was applied (per-question saves).
    saved: Any = None

    def __str__(self) -> str:
        return self.message
