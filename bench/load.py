"""25 people at once on 10,000 agents: gunicorn under Locust, on SQLite and PostgreSQL.

    .venv/bin/python bench/load.py [--databases sqlite postgres] [--users 25]
                                   [--seconds 60] [--agents 10000]

For each database: a fresh database (SQLite in a temporary folder; PostgreSQL as the
``bench_load`` database on ``--postgres``, dropped and made again) is migrated, given the
demo, ``seed_bulk --assessed`` agents and one account and one draft per simulated
person. gunicorn serves it with 3 workers on a free port of 127.0.0.1 with production
settings (plain HTTP on loopback). Locust (``bench/locustfile.py``) then runs the
people for ``--seconds``: each signs in once, then browses the inventory, the queue,
the dashboard and agent pages and autosaves answers in their own draft.

Prints p50 / p95 / p99 and errors per page and exits 1 when a target is missed:
p95 at most 250 ms on every page (sign-in excluded: it hashes a password on purpose),
no failed request, and no "database is locked" in the server's log.
Only loopback is ever contacted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, manage, production_env

BIN = Path(sys.executable).parent
P95_MS = 250.0
EXCLUDED = {"GET sign-in", "POST sign-in"}
# The pages bench/locustfile.py requests, by Locust's name for each.
PAGES = {
    "GET /agents/",
    "GET /agents/?q=",
    "GET /queue/",
    "GET / (dashboard)",
    "GET /agents/<slug>/",
    "GET wizard step",
    "POST autosave",
}
PASSWORD = "load-test-password-" + secrets.token_hex(4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(database_url: str, folder: Path, port: int) -> dict[str, str]:
    return production_env(  # plain HTTP on loopback
        database_url,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}",
        STATIC_ROOT=str(folder / "static"),
    )


PEOPLE_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from assessments import actions
from assessments.models import Agent
User = get_user_model()
group = Group.objects.get(name="assessor")
agents = list(Agent.objects.filter(slug__startswith="bulk-", status="active").order_by("pk")[:{n}])
people = []
for i, agent in enumerate(agents, 1):
    user = User.objects.create_user(f"load-{{i:02d}}", password="{password}")
    user.groups.add(group)
    draft = actions.start_assessment(user, agent)
    people.append({{"username": user.username, "slug": agent.slug, "number": draft.number}})
slugs = list(Agent.objects.order_by("?").values_list("slug", flat=True)[:300])
print(json.dumps({{"people": people, "agents": slugs}}))
"""


def prepare(env: dict[str, str], agents: int, users: int) -> dict[str, Any]:
    manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo")
    manage(env, "seed_bulk", "--agents", str(agents), "--assessed")
    out = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        PEOPLE_SCRIPT.format(n=users, password=PASSWORD),
    )
    return json.loads(out.splitlines()[-1])


def _wait_until_up(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped before it served a request")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)  # noqa: S310
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("gunicorn did not answer within 60 s")


def run(label: str, database_url: str, args: argparse.Namespace, folder: Path) -> bool:
    port = _free_port()
    env = _env(database_url, folder, port)
    started = time.perf_counter()
    data = prepare(env, args.agents, args.users)
    print(f"[{label}] seeded {args.agents} agents in {time.perf_counter() - started:.0f} s")
    log = folder / f"gunicorn-{label}.log"
    with open(log, "wb") as log_file:
        server = subprocess.Popen(  # noqa: S603 (the project's gunicorn on loopback)
            [
                str(BIN / "gunicorn"),
                "config.wsgi",
                "--workers",
                "3",
                "--bind",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "5",
            ],
            env=env,
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_up(port, server)
            prefix = folder / f"locust-{label}"
            locust_env = dict(
                env,
                LOAD_PEOPLE=json.dumps(data["people"]),
                LOAD_AGENTS=json.dumps(data["agents"]),
                LOAD_PASSWORD=PASSWORD,
            )
            done = subprocess.run(  # noqa: S603 (Locust against the loopback server above)
                [
                    str(BIN / "locust"),
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(args.users),
                    "--run-time",
                    f"{args.seconds}s",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                    "--exit-code-on-error",
                    "0",
                ],
                env=locust_env,
                cwd=ROOT,
                check=False,
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise SystemExit(f"locust failed:\n{done.stderr[-3000:]}")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker stuck in a request: stop it
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    return report(label, Path(f"{prefix}_stats.csv"), log)


def report(label: str, stats: Path, log: Path) -> bool:
    rows = list(csv.DictReader(stats.open()))
    served = {f"{r['Type']} {r['Name']}".strip() for r in rows if int(r["Request Count"] or 0)}
    # Every page the people browse must have been measured: no figures is not a pass.
    unmeasured = sorted(PAGES - served)
    print(f"\n[{label}] {'page':<26}{'requests':>9}{'errors':>8}{'p50':>7}{'p95':>7}{'p99':>7}  ok")
    ok = True
    for row in rows:
        name = f"{row['Type']} {row['Name']}".strip()
        requests = int(row["Request Count"])
        errors = int(row["Failure Count"])
        if not requests:  # the sign-in page, asked for only before the figures started over
            continue
        p50, p95, p99 = (float(row[k] or 0) for k in ("50%", "95%", "99%"))
        if name == "Aggregated":
            name = "all pages"
        good = errors == 0 and (name in EXCLUDED or name == "all pages" or p95 <= P95_MS)
        ok = ok and good
        print(
            f"[{label}] {name:<26}{requests:>9}{errors:>8}{p50:>7.0f}{p95:>7.0f}{p99:>7.0f}"
            f"  {'yes' if good else 'NO'}"
        )
    text = log.read_text(errors="replace")
    locked = text.count("database is locked")
    server_errors = sum(1 for line in text.splitlines() if '" 50' in line)
    print(f"[{label}] 'database is locked' in the server log: {locked}; 5xx: {server_errors}")
    if unmeasured:
        print(f"[{label}] NO request completed for: {', '.join(unmeasured)}")
    return ok and locked == 0 and server_errors == 0 and not unmeasured


def _postgres_url(base: str) -> str:
    """Drop and make the ``bench_load`` database on the server of ``base``."""
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_load WITH (FORCE)")
        conn.execute("CREATE DATABASE bench_load")
    return base.rsplit("/", 1)[0] + "/bench_load"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(
        f"{args.users} people, {args.seconds} s, {args.agents} agents; "
        f"this machine: {os.cpu_count()} CPUs, gunicorn 3 workers; target p95 <= {P95_MS:.0f} ms"
    )
    results = {}
    with tempfile.TemporaryDirectory(prefix="assessor-load-") as tmp:
        for database in args.databases:
            folder = Path(tmp) / database
            folder.mkdir()
            if database == "sqlite":
                url = f"sqlite:///{folder / 'load.sqlite3'}"
            elif database == "postgres":
                url = _postgres_url(args.postgres)
            else:
                raise SystemExit(f"Unknown database {database!r}: use sqlite or postgres.")
            results[database] = run(database, url, args, folder)
    failed = [name for name, good in results.items() if not good]
    print("\ntargets " + ("met" if not failed else f"missed on: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
