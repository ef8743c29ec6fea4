"""What the bench scripts share: the project's settings for a throw-away database, and
running this project's manage.py against it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def production_env(database_url: str, **overrides: str) -> dict[str, str]:
    """This process's environment with production settings (DEBUG off, fresh keys, tasks
    run at once) on ``database_url``; ``overrides`` adds or replaces variables."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(40),
        AUDIT_KEY=secrets.token_urlsafe(40),
        TASKS_BACKEND="django.tasks.backends.immediate.ImmediateBackend",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run ``manage.py ARGS`` in ``env``; its output, or exit naming the command."""
    done = subprocess.run(  # noqa: S603 (this interpreter, this project's manage.py)
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args[:2])} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()
