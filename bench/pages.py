"""Server time of every list and summary page at 50 and at 100,000 agents.

    .venv/bin/python bench/pages.py [--sizes 50 100000] [--requests 30] [--changes 5]
                                    [--keep FOLDER]

For each size, a fresh SQLite database in a temporary folder is migrated, given the
demo data and ``seed_bulk --assessed`` agents (approved versions with real engine
results, exceptions, open reviews), so that the portfolio holds that many agents; past
2,000 seeded agents, the rest are copies of them (bench/multiply.py). Then
each database is served by a subprocess of its own, where the reviewer signs in and each
page is requested through Django's full request stack (middleware, sessions, CSP,
audit): one warm-up request, then ``--requests`` more, of which the median counts. A
draft is opened for the wizard and the assessment page.

The requests are interleaved: in each round every page is requested once at each size,
in a shuffled order, one request at a time. On a machine shared with other work, a
burst of it then slows every page and both sizes alike, so the ratios below compare
like with like.

The light page is the password-change page: same layout (navigation, badges, context
processors), no portfolio work. It is the floor every page is compared with.

Each database has its background worker (``db_worker``, the database tasks backend), as
in production: the portfolio figures are computed there, never in a request
(assessments/portfolio/stored.py). Then comes the round "right after a change", at the larger
size: ``--changes`` times, the reviewer approves a submitted assessment (a POST through
the same stack) and the first dashboard, queue and catalogue requests after it are
timed; the figures they show are the last ones, "updating", until the worker has
stored the new ones, whose delay is printed too.

Prints one row per page and exits 1 when a target is missed:
- the large/small ratio of every page's median is at most 1.3 (a page's cost must not
  grow with the portfolio);
- every page's median at the larger size is at most 3x the light page's;
- every first request after a change takes at most 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import COUNT, ROOT, manage, production_env, seed

MAX_RATIO = 1.3
MAX_OVER_LIGHT = 3.0
MAX_AFTER_CHANGE_MS = 300.0
AFTER_CHANGE = ("dashboard", "queue", "catalogue")
PAGES = (
    "light",
    "dashboard",
    "agents",
    "queue",
    "catalogue",
    "reports",
    "agent",
    "assessment",
    "wizard",
)


def _env(
    database: Path, tasks: str = "django.tasks.backends.immediate.ImmediateBackend"
) -> dict[str, str]:
    return production_env(
        f"sqlite:///{database}",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        TASKS_BACKEND=tasks,
    )


WORKER_TASKS = "django_tasks_db.DatabaseBackend"


def prepare(size: int, folder: Path) -> dict[str, str]:
    """A migrated database with the demo and enough seeded agents to hold ``size``."""
    database = folder / f"pages-{size}.sqlite3"
    existed = database.exists()
    env = _env(database)
    env["STATIC_ROOT"] = str(folder / "static")  # production settings: hashed static files
    if not (existed and (folder / "static" / "staticfiles.json").exists()):
        manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")
    if existed:  # kept from an earlier run (--keep): migrated, already seeded
        return env
    manage(env, "load_demo")
    count = int(manage(env, "shell", "--no-imports", "-c", COUNT).splitlines()[-1])
    seed(env, size - count)
    return env


def _served(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the database tasks backend: a worker computes the figures."""
    return dict(env, TASKS_BACKEND=WORKER_TASKS)


def serve() -> None:
    """In the prepared database, as the reviewer: answer one line naming a page with one
    request of it (its server time and size, as JSON), until stdin closes. The first line
    written says what was set up (the page URLs, the number of agents)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from assessments import actions
    from assessments.models import Agent, Assessment

    # Not setup_test_environment(): its template instrumentation (a signal and a copy of
    # the context on every template rendered) is no part of a server's time.
    settings.ALLOWED_HOSTS = ["testserver"]
    reviewer = get_user_model().objects.get(username="reviewer")
    # The agent and assessment pages: a demo agent with an approved assessment, so its
    # history is the same at both sizes; the wizard on a draft of it.
    approved = (
        Assessment.objects.filter(status="approved")
        .exclude(agent__slug__startswith="bulk-")
        .select_related("agent")
        .order_by("agent__slug", "-number")
        .first()
    )
    agent = approved.agent
    draft = Assessment.objects.open().filter(agent=agent, status="draft").first()
    if draft is None:
        draft = actions.start_assessment(reviewer, agent)
    urls = {
        "light": reverse("password_change"),
        "dashboard": reverse("assessments:dashboard"),
        "agents": reverse("assessments:agent_list"),
        "queue": reverse("assessments:queue"),
        "catalogue": reverse("assessments:catalogue"),
        "reports": reverse("assessments:reports"),
        "agent": reverse("assessments:agent_detail", args=[agent.slug]),
        "assessment": reverse("assessments:assessment_detail", args=[agent.slug, approved.number]),
        "wizard": reverse("assessments:wizard", args=[agent.slug, draft.number]),
    }
    changes = _submitted(int(os.environ.get("BENCH_CHANGES", "0")))
    client = Client()
    client.force_login(reviewer)
    for name, url in urls.items():  # one warm-up request each: caches, imports
        first = client.get(url)
        if first.status_code == 302:  # the wizard opens at its current step
            urls[name] = first["Location"]
    settle()
    print(json.dumps({"agents": Agent.objects.count(), "urls": urls}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        if name == "change":  # approve one of the submitted assessments, timed
            slug, number, version = changes.pop()
            started = time.perf_counter()
            response = client.post(
                reverse("assessments:assessment_decide", args=[slug, number]),
                {"decision": "approve", "lock_version": version},
            )
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 302:
                raise SystemExit(f"approving {slug} v{number} answered {response.status_code}")
            print(json.dumps({"ms": elapsed, "bytes": len(response.content)}), flush=True)
            continue
        if name == "settle":  # wait until the worker has stored the figures after a change
            print(json.dumps({"ms": settle(), "bytes": 0}), flush=True)
            continue
        started = time.perf_counter()
        response = client.get(urls[name], follow=False)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{name} ({urls[name]}) answered {response.status_code}")
        print(json.dumps({"ms": elapsed, "bytes": len(response.content)}), flush=True)


def _submitted(n: int) -> list[tuple[str, int, int]]:
    """``n`` assessments submitted for a decision, for the round after a change: each a
    copy of a seeded agent's approved answers, submitted by the demo's assessor (so the
    reviewer may approve it), picked where no flag needs an exception to approve."""
    from django.contrib.auth import get_user_model

    from assessments import actions
    from assessments.models import Assessment
    from assessments.workflow.decisions import INVENTORY_KEYS

    if not n:
        return []
    assessor = get_user_model().objects.get(username="assessor")
    busy = Assessment.objects.open().values("agent_id")
    out = []
    for approved in (
        Assessment.objects.latest_approved()
        .filter(agent__slug__startswith="bulk-", agent__status="active")
        .exclude(agent_id__in=busy)
        .select_related("agent")
        .order_by("agent_id")[: n * 20]
    ):
        if len(out) == n:
            break
        if "audit_gap" in (approved.result or {}).get("flags", []):
            continue
        draft = actions.start_assessment(assessor, approved.agent)
        answers = {k: v for k, v in approved.answers.items() if k not in INVENTORY_KEYS}
        draft = actions.save_answers(assessor, draft, answers, expected_version=draft.lock_version)
        done = actions.submit_assessment(assessor, draft)
        if "audit_gap" not in done.result["flags"]:
            out.append((approved.agent.slug, done.number, done.lock_version))
    return out


def settle(timeout: float = 120.0) -> float:
    """Wait until the whole portfolio's stored figures are current (the worker has
    computed them since the last change); the milliseconds waited."""
    from django.utils import timezone

    from assessments.models import PortfolioSnapshot
    from assessments.portfolio import stored as figures

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        row = PortfolioSnapshot.objects.filter(scope=figures.WHOLE).values(*figures.FIELDS).first()
        if row and figures._current(row, timezone.localdate(), timezone.now()):
            break
        figures.read(timezone.localdate())  # queues the computation if nothing has
        time.sleep(0.1)
    return (time.perf_counter() - started) * 1000


class Worker:
    """The database's background worker (``db_worker``), as ``make run`` starts it."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, this project)
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "db_worker",
                "--no-reload",
                "--interval",
                "0.2",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class Server:
    """A ``--serve`` subprocess on one prepared database."""

    def __init__(self, env: dict[str, str]) -> None:
        self.errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, this script)
            [sys.executable, __file__, "--serve"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self.setup = self._answer()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.errors.seek(0)
            raise SystemExit(f"measuring failed:\n{self.errors.read()[-3000:]}")
        return json.loads(line)

    def request(self, page: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(page + "\n")
        self.process.stdin.flush()
        return self._answer()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        self.errors.close()


def measure(envs: dict[int, dict[str, str]], requests: int, changes: int) -> dict[Any, Any]:
    """The median server time of each page at each size, the requests interleaved.

    Both sizes are served at once, each by a process of its own, and asked one request at
    a time in rounds: each round requests every page at every size once, in a shuffled
    order. A burst of other work on the machine thus falls on all pages and both sizes
    alike instead of on whichever page was being measured then, and the ratios compare
    like with like."""
    large = max(envs)
    workers = [Worker(env) for env in envs.values()]
    servers = {
        size: Server(dict(env, BENCH_CHANGES=str(changes if size == large else 0)))
        for size, env in envs.items()
    }
    timings: dict[int, dict[str, list[float]]] = {size: {p: [] for p in PAGES} for size in envs}
    sizes: dict[int, dict[str, int]] = {size: {} for size in envs}
    after: dict[str, list[float]] = {p: [] for p in ("change", *AFTER_CHANGE, "settle")}
    order = random.Random(17)  # the same sequence of orders on every run
    try:
        for _ in range(requests):
            pairs = [(size, page) for size in envs for page in PAGES]
            order.shuffle(pairs)
            for size, page in pairs:
                answer = servers[size].request(page)
                timings[size][page].append(answer["ms"])
                sizes[size][page] = answer["bytes"]
        # Right after a change: an approval, then the first request of each page.
        for _ in range(changes):
            for step in ("change", *AFTER_CHANGE, "settle"):
                after[step].append(servers[large].request(step)["ms"])
    finally:
        for server in servers.values():
            server.close()
        for worker in workers:
            worker.close()
    return {
        "after_change": after,
        **{
            size: {
                "agents": servers[size].setup["agents"],
                "pages": {
                    page: {
                        "url": servers[size].setup["urls"][page],
                        "median_ms": statistics.median(timings[size][page]),
                        "bytes": sizes[size][page],
                    }
                    for page in PAGES
                },
            }
            for size in envs
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[50, 100_000])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--changes", type=int, default=5, help="approvals in the round right after a change"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="FOLDER",
        help="keep the seeded databases in FOLDER and reuse them on the next run",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        sys.path.insert(0, str(ROOT))
        serve()
        return 0

    small, large = args.sizes
    with tempfile.TemporaryDirectory(prefix="assessor-pages-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        envs = {}
        for size in (small, large):
            started = time.perf_counter()
            envs[size] = _served(prepare(size, folder))
            print(f"seeded {size} agents in {time.perf_counter() - started:.0f} s", flush=True)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        results = measure(envs, args.requests, args.changes)
        took = time.perf_counter() - started
        load_after = os.getloadavg()[0]

    a, b = results[small], results[large]
    light = b["pages"]["light"]["median_ms"]
    print(
        f"\nmedian of {args.requests} requests per page and size, interleaved, reviewer signed "
        f"in; {a['agents']} vs {b['agents']} agents; light page = password change\n"
        f"{os.cpu_count()} CPUs; load average {load_before:.1f} before, {load_after:.1f} after "
        f"{took:.0f} s of measuring\n"
    )
    print(f"{'page':<12}{'small ms':>10}{'large ms':>10}{'ratio':>8}{'x light':>9}{'KB':>8}  ok")
    failed = []
    for name in PAGES:
        m_small = a["pages"][name]["median_ms"]
        m_large = b["pages"][name]["median_ms"]
        ratio = m_large / m_small if m_small else float("inf")
        over = m_large / light if light else float("inf")
        ok = ratio <= MAX_RATIO and (name == "light" or over <= MAX_OVER_LIGHT)
        if not ok:
            failed.append(name)
        kb = b["pages"][name]["bytes"] / 1024
        print(
            f"{name:<12}{m_small:>10.1f}{m_large:>10.1f}{ratio:>8.2f}{over:>9.2f}{kb:>8.0f}"
            f"  {'yes' if ok else 'NO'}"
        )
    after = results["after_change"]
    if args.changes:
        print(
            f"\nright after a change, at {b['agents']} agents ({args.changes} approvals; "
            f"load average {os.getloadavg()[0]:.1f} at the end): ms per request"
        )
        print(f"{'request':<34}{'median':>8}{'max':>8}  ok")
        for step in ("change", *AFTER_CHANGE, "settle"):
            values = after[step]
            label = {
                "change": "the approval (POST)",
                "settle": "until the new figures are stored",
            }.get(step, f"first {step} after it")
            ok = step in ("change", "settle") or max(values) <= MAX_AFTER_CHANGE_MS
            if not ok:
                failed.append(f"{step} after a change")
            print(
                f"{label:<34}{statistics.median(values):>8.0f}{max(values):>8.0f}"
                f"  {'yes' if ok else 'NO'}"
            )
    print(
        f"\ntargets: ratio <= {MAX_RATIO}, median <= {MAX_OVER_LIGHT:.0f}x the light page, "
        f"first request after a change <= {MAX_AFTER_CHANGE_MS:.0f} ms; "
        + ("all met" if not failed else f"missed by: {', '.join(failed)}")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
