"""25 people at once on 10,000 agents: gunicorn under Locust, on SQLite and PostgreSQL.

    .venv/bin/python bench/load.py [--databases sqlite postgres] [--users 25]
                                   [--seconds 60] [--agents 10000] [--keep FOLDER]
                                   [--postgres URL] [--postgres-name NAME]

For each database: a fresh database (SQLite in a temporary folder; PostgreSQL as the
``--postgres-name`` database on the server of ``--postgres``, dropped and made again) is
migrated, given the demo, ``seed_bulk --assessed`` agents (past 2,000, copies of them:
bench/multiply.py) and one account and one draft
per simulated person. gunicorn serves it with 3 workers on a free port of 127.0.0.1
with production settings (plain HTTP on loopback). Locust (``bench/locustfile.py``)
then runs the people: each signs in once; once the last is in, everyone browses the
inventory, the queue, the dashboard and agent pages and autosaves answers in their own
draft for ``--seconds``.

Prints p50 / p95 / p99 and errors per page and exits 1 when a target is missed:
p95 at most 250 ms on every page (sign-in excluded: it hashes a password on purpose),
no failed request, and no "database is locked" in the server's log. Also printed, to
tell where time went: the server's own time per page (from its access log), the CPU
seconds gunicorn and Locust used and the load average (the machine may be shared).
``--keep FOLDER`` (SQLite) keeps the seeded database and starts later runs from a copy.
Only loopback is ever contacted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import resource
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, fresh_postgres, manage, production_env, seed, vacuum

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
        # As in production: a worker computes the portfolio figures in the background.
        TASKS_BACKEND="django_tasks_db.DatabaseBackend",
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

# One reviewer, and assessments submitted for them to approve or return during the run
# (made again before each run: a decision uses one up).
DECISIONS_SCRIPT = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from assessments import actions
from assessments.workflow.decisions import INVENTORY_KEYS
from assessments.models import Assessment
User = get_user_model()
reviewer, made = User.objects.get_or_create(username="load-reviewer")
if made:
    reviewer.set_password("{password}")
    reviewer.save()
    reviewer.groups.add(Group.objects.get(name="reviewer"))
assessor = User.objects.get(username="assessor")
busy = Assessment.objects.open().values("agent_id")
out = []
for approved in (
    Assessment.objects.latest_approved()
    .filter(agent__slug__startswith="bulk-", agent__status="active")
    .exclude(agent_id__in=busy)
    .select_related("agent")
    .order_by("-agent_id")[: {n} * 20]
):
    if len(out) == {n}:
        break
    if "audit_gap" in (approved.result or {{}}).get("flags", []):
        continue
    draft = actions.start_assessment(assessor, approved.agent)
    answers = {{k: v for k, v in approved.answers.items() if k not in INVENTORY_KEYS}}
    draft = actions.save_answers(assessor, draft, answers, expected_version=draft.lock_version)
    done = actions.submit_assessment(assessor, draft)
    if "audit_gap" not in done.result["flags"]:
        out.append({{"slug": done.agent.slug, "number": done.number, "lock_version": done.lock_version}})
print(json.dumps(out))
"""
DECISION_SECONDS = 20  # one decision every 20 s (bench/locustfile.py, Reviewer)


def decisions(env: dict[str, str], seconds: int) -> list[dict[str, Any]]:
    """Assessments submitted for the run's reviewer: one per 20 s, and two to spare."""
    out = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        DECISIONS_SCRIPT.format(n=seconds // DECISION_SECONDS + 2, password=PASSWORD),
    )
    return json.loads(out.splitlines()[-1])


def prepare(env: dict[str, str], agents: int, users: int) -> dict[str, Any]:
    manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")
    manage(env, "load_demo")
    seed(env, agents)
    out = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        PEOPLE_SCRIPT.format(n=users, password=PASSWORD),
    )
    return {**json.loads(out.splitlines()[-1]), "password": PASSWORD}


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


def _prepared(
    label: str, env: dict[str, str], args: argparse.Namespace, folder: Path
) -> dict[str, Any]:
    """``prepare`` the database; with ``--keep`` (SQLite only), a copy of the one seeded
    by an earlier run with the same numbers, untouched by that run's traffic."""
    if label == "postgres" and args.reuse:
        # The database seeded by an earlier run (or bench/multiply.py), kept as it is.
        saved = args.keep / f"load-postgres-{args.agents}-{args.users}.json" if args.keep else None
        manage(env, "collectstatic", "--noinput")
        manage(env, "migrate", "--noinput")
        if saved is None or not saved.exists():
            raise SystemExit("--reuse needs --keep FOLDER holding the people of that database")
        return json.loads(saved.read_text())
    if label != "sqlite" or args.keep is None:
        data = prepare(env, args.agents, args.users)
        if label == "postgres" and args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / f"load-postgres-{args.agents}-{args.users}.json").write_text(
                json.dumps(data)
            )
        return data
    args.keep.mkdir(parents=True, exist_ok=True)
    seed = args.keep / f"load-{args.agents}-{args.users}.sqlite3"
    people = seed.with_suffix(".json")
    database = folder / "load.sqlite3"
    if not (seed.exists() and people.exists()):
        data = prepare(env, args.agents, args.users)
        with sqlite3.connect(database) as source, sqlite3.connect(seed) as target:
            source.backup(target)
        people.write_text(json.dumps(data))
        return data
    with sqlite3.connect(seed) as source, sqlite3.connect(database) as target:
        source.backup(target)
    manage(env, "collectstatic", "--noinput")
    return json.loads(people.read_text())


def run(label: str, database_url: str, args: argparse.Namespace, folder: Path) -> bool:
    port = _free_port()
    env = _env(database_url, folder, port)
    started = time.perf_counter()
    data = _prepared(label, env, args, folder)
    if label == "postgres":
        vacuum(database_url)
    data["decisions"] = decisions(env, args.seconds)
    print(
        f"[{label}] seeded {args.agents} agents in {time.perf_counter() - started:.0f} s; "
        f"{len(data['decisions'])} assessments await the reviewer's decision"
    )
    worker = subprocess.Popen(  # noqa: S603 (the project's background worker)
        [sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-reload", "--interval", "0.5"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
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
                # The server's own time per request (ms), to tell it from waiting for a
                # worker or for the CPU.
                "--access-logformat",
                '%(h)s "%(r)s" %(s)s %(b)s %(M)s',
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
            server_cpu, load_before = _group_cpu_seconds(server.pid), os.getloadavg()[0]
            children_cpu = _children_cpu_seconds()
            prefix = folder / f"locust-{label}"
            locust_env = dict(
                env,
                LOAD_DECISIONS=json.dumps(data["decisions"]),
                LOAD_REVIEWER="load-reviewer",
                LOAD_PEOPLE=json.dumps(data["people"]),
                LOAD_AGENTS=json.dumps(data["agents"]),
                LOAD_PASSWORD=data["password"],
                LOAD_SECONDS=str(args.seconds),
            )
            done = subprocess.run(  # noqa: S603 (Locust against the loopback server above)
                [
                    str(BIN / "locust"),
                    "-f",
                    str(ROOT / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(args.users + 1),  # and the reviewer
                    "--spawn-rate",
                    str(args.users + 1),
                    # An upper bound: the people stop LOAD_SECONDS after the last one
                    # has signed in (bench/locustfile.py).
                    "--run-time",
                    f"{args.seconds + 300}s",
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
            server_cpu = _group_cpu_seconds(server.pid) - server_cpu
            locust_cpu = _children_cpu_seconds() - children_cpu
            print(
                f"[{label}] load average {load_before:.1f} before the run, "
                f"{os.getloadavg()[0]:.1f} after; CPU seconds used by gunicorn "
                f"{server_cpu:.0f}, by Locust {locust_cpu:.0f}"
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker stuck in a request: stop it
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    return report(label, Path(f"{prefix}_stats.csv"), log)


_LOGGED = re.compile(r'"(GET|POST) (\S+) HTTP/[\d.]+" (\d{3}) \S+ (\d+)$')


def _page_of(method: str, path: str) -> str:
    """Locust's name for a request the server logged (bench/locustfile.py)."""
    if path.startswith("/accounts/login/"):
        return "sign-in"
    if method == "POST" and path.endswith("/wizard/answer/"):
        return "POST autosave"
    if "/wizard/" in path:
        return "GET wizard step"
    if path == "/":
        return "GET / (dashboard)"
    if path.endswith("/decide/"):
        return "POST decision"
    if "/assessments/" in path:
        return "GET /agents/<slug>/assessments/<n>/"
    if path.startswith("/agents/?q=") or "&q=" in path:
        return "GET /agents/?q="
    if path.startswith(("/agents/?", "/agents/")) and path.count("/") == 2:
        return "GET /agents/"
    if path.startswith("/agents/"):
        return "GET /agents/<slug>/"
    return f"{method} {path.split('?')[0]}"


def _server_times(label: str, log: str) -> None:
    """The server's own time per page over the whole run (sign-in phase included), from
    the access log: what a request cost once a worker took it."""
    times: dict[str, list[float]] = {}
    for line in log.splitlines():
        if found := _LOGGED.search(line):
            method, path, _status, ms = found.groups()
            times.setdefault(_page_of(method, path), []).append(float(ms))
    print(
        f"[{label}] server time, whole run: {'page':<19}{'requests':>9}{'p50':>7}{'p95':>7}"
        f"{'max':>7}"
    )
    for page, values in sorted(times.items()):
        values.sort()
        p50 = values[len(values) // 2]
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(
            f"[{label}]                       {page:<19}{len(values):>9}{p50:>7.0f}{p95:>7.0f}"
            f"{values[-1]:>7.0f}"
        )


def _group_cpu_seconds(pid: int) -> float:
    """CPU time (user and system) of process ``pid`` and its children so far (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        # After the name: state ppid pgrp ... utime (12th) stime (13th).
        if int(fields[2]) == pid:  # the process group gunicorn leads
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    _server_times(label, text)
    locked = text.count("database is locked")
    server_errors = sum(1 for line in text.splitlines() if '" 50' in line)
    print(f"[{label}] 'database is locked' in the server log: {locked}; 5xx: {server_errors}")
    if unmeasured:
        print(f"[{label}] NO request completed for: {', '.join(unmeasured)}")
    return ok and locked == 0 and server_errors == 0 and not unmeasured


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--postgres-name", default="bench_load", help="the database made (and dropped) there"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="FOLDER",
        help="SQLite: keep the seeded database in FOLDER and start later runs from a copy",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="PostgreSQL: use the database --postgres-name as it is (seeded by an earlier "
        "run with --keep FOLDER, or by bench/multiply.py) instead of making it again",
    )
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
            elif database == "postgres" and args.reuse:
                url = args.postgres.rsplit("/", 1)[0] + "/" + args.postgres_name
            elif database == "postgres":
                url = fresh_postgres(args.postgres, args.postgres_name)
            else:
                raise SystemExit(f"Unknown database {database!r}: use sqlite or postgres.")
            results[database] = run(database, url, args, folder)
    failed = [name for name, good in results.items() if not good]
    print("\ntargets " + ("met" if not failed else f"missed on: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
