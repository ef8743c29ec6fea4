"""Time of the portfolio's figures computed again (the worker's task) at 100,000 agents.

    .venv/bin/python bench/figures.py [--databases sqlite postgres] [--agents 100000]
                                      [--rounds 7] [--keep FOLDER]

No web request computes the portfolio's figures: after a change the background worker
does (``portfolio.stored.refresh``: the gaps of any approved version not read yet, then
every figure of the dashboard, the queue's counts and the catalogue's counts). This
times that task where the figures take longest to compute.

Each database is migrated and seeded as bench/pages.py and bench/load.py seed theirs
(``seed_bulk --assessed`` for 2,000 agents, the rest copies of them: bench/multiply.py);
PostgreSQL's is vacuumed first, as autovacuum would (this machine's server runs without
it). Then one process on that database computes the whole portfolio's figures
``--rounds`` times, one after another, as the worker would after as many changes; the
median counts. With ``--keep FOLDER`` the SQLite database is kept there and reused, and
PostgreSQL's (``--postgres-name``) is used as it is when it already holds the agents.

Target: a median of at most 1 s at 100,000 agents (issue 29). Exits 1 when missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import COUNT, fresh_postgres, manage, production_env, seed, vacuum

MAX_SECONDS = 1.0
TIMED = """
import importlib, json, time
stored = importlib.import_module("assessments.portfolio.stored")
took = []
for _ in range({rounds}):
    started = time.perf_counter()
    stored.refresh("")
    took.append(time.perf_counter() - started)
print(json.dumps(took))
"""


def prepare(database_url: str, agents: int) -> dict[str, str]:
    """``database_url`` migrated and holding ``agents`` assessed agents (seeded up to
    that number: a kept database already holds them)."""
    env = production_env(database_url)
    manage(env, "migrate", "--noinput")
    held = int(manage(env, "shell", "--no-imports", "-c", COUNT).splitlines()[-1])
    if held < agents:
        seed(env, agents - held)
    return env


def postgres_url(args: argparse.Namespace) -> str:
    """The PostgreSQL database to time: kept from an earlier run (``--keep``) if there
    is one, else made afresh."""
    import psycopg

    url = f"{args.postgres.rsplit('/', 1)[0]}/{args.postgres_name}"
    if args.keep is not None:
        with contextlib.suppress(psycopg.OperationalError):
            psycopg.connect(url).close()
            return url
    return fresh_postgres(args.postgres, args.postgres_name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--postgres-name", default="bench_figures", help="the database made there")
    parser.add_argument("--keep", type=Path, metavar="FOLDER", help="keep and reuse the databases")
    args = parser.parse_args()
    print(
        f"the whole portfolio's figures computed {args.rounds} times at {args.agents} agents; "
        f"this machine: {os.cpu_count()} CPUs; target median <= {MAX_SECONDS:.1f} s"
    )
    failed = []
    with tempfile.TemporaryDirectory(prefix="assessor-figures-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for database in args.databases:
            if database == "sqlite":
                url = f"sqlite:///{folder / f'figures-{args.agents}.sqlite3'}"
            elif database == "postgres":
                url = postgres_url(args)
            else:
                raise SystemExit(f"Unknown database {database!r}: use sqlite or postgres.")
            env = prepare(url, args.agents)
            if database == "postgres":
                vacuum(url)
            load_before = os.getloadavg()[0]
            took = json.loads(
                manage(
                    env, "shell", "--no-imports", "-c", TIMED.format(rounds=args.rounds)
                ).splitlines()[-1]
            )
            median = statistics.median(took)
            ok = median <= MAX_SECONDS
            if not ok:
                failed.append(database)
            print(
                f"[{database}] seconds per computation: median {median:.2f}, "
                f"min {min(took):.2f}, max {max(took):.2f} "
                f"({', '.join(f'{t:.2f}' for t in took)}); load average {load_before:.1f} "
                f"before, {os.getloadavg()[0]:.1f} after  {'met' if ok else 'MISSED'}"
            )
    print("\ntarget " + ("met" if not failed else f"missed on: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
