"""What the bench scripts share: the project's settings for a throw-away database, and
running this project's manage.py against it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Agents seed_bulk makes with the engine (minutes of CPU per thousand); beyond these a
# bench copies them by SQL (``seed``).
SEEDED = 2000
# The agents in a database, printed by ``manage.py shell -c``.
COUNT = "from assessments.models import Agent; print(Agent.objects.count())"


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


def run_python(env: dict[str, str], script: Path, *args: str, what: str) -> str:
    """Run this interpreter on ``script ARGS`` in ``env``; its output, or exit saying
    ``what`` failed."""
    done = subprocess.run(  # noqa: S603 (this interpreter, this project's scripts)
        [sys.executable, str(script), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{what} failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip()


def manage(env: dict[str, str], *args: str) -> str:
    """Run ``manage.py ARGS`` in ``env``; its output, or exit naming the command."""
    return run_python(env, ROOT / "manage.py", *args, what=f"manage.py {' '.join(args[:2])}")


def seed(env: dict[str, str], agents: int) -> None:
    """Add ``agents`` assessed agents: up to ``SEEDED`` by ``seed_bulk --assessed``, the
    rest copies of those (bench/multiply.py: the same mix of classes, tiers, gaps,
    exceptions and reviews repeated)."""
    if agents <= 0:
        return
    manage(env, "seed_bulk", "--agents", str(min(agents, SEEDED)), "--assessed")
    if agents > SEEDED:
        multiply(
            env,
            int(manage(env, "shell", "--no-imports", "-c", COUNT).splitlines()[-1])
            + agents
            - SEEDED,
        )


def multiply(env: dict[str, str], size: int) -> None:
    """Copy the seeded agents until the portfolio holds ``size`` (bench/multiply.py)."""
    run_python(env, ROOT / "bench" / "multiply.py", "--to", str(size), what="bench/multiply.py")


def vacuum(database_url: str) -> None:
    """PostgreSQL: ``VACUUM ANALYZE`` the seeded database, as autovacuum does a minute
    after a bulk load (on a server that runs it: this machine's runs with autovacuum
    off). Until then every count reads the table itself, not its index alone."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # And the seeding's gigabyte written back to disk now, not by the checkpointer
        # during the first seconds of the measuring (a server's bulk load is long past).
        conn.execute("CHECKPOINT")


def fresh_postgres(base: str, name: str) -> str:
    """Drop and make the database ``name`` on the server of ``base``; its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return base.rsplit("/", 1)[0] + "/" + name
