"""The one door from actions to background work.

Actions say *what* should run later (``enqueue("render_board_pack", job_id)``);
``assessments.tasks`` registers the Django tasks that do it when the app is ready.
So tasks import actions, and actions never import tasks: no import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

_TASKS: dict[str, Any] = {}


def register(task: Any) -> Any:
    """Make a Django task reachable by its function's name (used as a decorator)."""
    _TASKS[task.name] = task
    return task


def enqueue(name: str, *args: Any, on_commit: bool = True, **kwargs: Any) -> None:
    """Enqueue the registered task ``name``; by default once the transaction commits,
    so a worker never looks for a row that is not there yet."""
    task = _TASKS.get(name)
    if task is None:
        raise LookupError(f"No background task named {name!r} is registered.")
    run: Callable[[], Any] = lambda: task.enqueue(*args, **kwargs)  # noqa: E731
    if on_commit:
        transaction.on_commit(run)
    else:
        run()


def enqueue_later(name: str, when: Any, *args: Any) -> bool:
    """Enqueue ``name`` to run at ``when`` if the tasks backend can defer work; returns
    False when it cannot (the caller's periodic command picks the work up instead)."""
    task = _TASKS.get(name)
    if task is None:
        raise LookupError(f"No background task named {name!r} is registered.")
    if not task.get_backend().supports_defer:
        return False
    task.using(run_after=when).enqueue(*args)
    return True
