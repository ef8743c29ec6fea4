"""Server time of every list and summary page at 50 and at 10,000 agents.

    .venv/bin/python bench/pages.py [--sizes 50 10000] [--requests 30] [--keep FOLDER]

For each size, a fresh SQLite database in a temporary folder is migrated, given the
demo data and ``seed_bulk --assessed`` agents (approved versions with real engine
results, exceptions, open reviews), so that the portfolio holds that many agents. Then
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

Prints one row per page and exits 1 when a target is missed:
- the 10,000/50 ratio of every page's median is at most 1.3 (a page's cost must not
  grow with the portfolio);
- every page's median at 10,000 agents is at most 3x the light page's.
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

from common import ROOT, manage, production_env

MAX_RATIO = 1.3
MAX_OVER_LIGHT = 3.0
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


def _env(database: Path) -> dict[str, str]:
    return production_env(
        f"sqlite:///{database}", ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="0"
    )


def prepare(size: int, folder: Path) -> dict[str, str]:
    """A migrated database with the demo and enough seeded agents to hold ``size``."""
    database = folder / f"pages-{size}.sqlite3"
    existed = database.exists()
    env = _env(database)
    env["STATIC_ROOT"] = str(folder / "static")  # production settings: hashed static files
    manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")
    if existed:  # kept from an earlier run (--keep): migrated, already seeded
        return env
    manage(env, "load_demo")
    count = int(
        manage(
            env,
            "shell",
            "--no-imports",
            "-c",
            "from assessments.models import Agent; print(Agent.objects.count())",
        ).splitlines()[-1]
    )
    if size > count:
        manage(env, "seed_bulk", "--agents", str(size - count), "--assessed")
    return env


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
    client = Client()
    client.force_login(reviewer)
    for name, url in urls.items():  # one warm-up request each: caches, imports
        first = client.get(url)
        if first.status_code == 302:  # the wizard opens at its current step
            urls[name] = first["Location"]
    print(json.dumps({"agents": Agent.objects.count(), "urls": urls}), flush=True)
    for line in sys.stdin:
        name = line.strip()
        started = time.perf_counter()
        response = client.get(urls[name], follow=False)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{name} ({urls[name]}) answered {response.status_code}")
        print(json.dumps({"ms": elapsed, "bytes": len(response.content)}), flush=True)


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


def measure(envs: dict[int, dict[str, str]], requests: int) -> dict[int, dict[str, Any]]:
    """The median server time of each page at each size, the requests interleaved.

    Both sizes are served at once, each by a process of its own, and asked one request at
    a time in rounds: each round requests every page at every size once, in a shuffled
    order. A burst of other work on the machine thus falls on all pages and both sizes
    alike instead of on whichever page was being measured then, and the ratios compare
    like with like."""
    servers = {size: Server(env) for size, env in envs.items()}
    timings: dict[int, dict[str, list[float]]] = {size: {p: [] for p in PAGES} for size in envs}
    sizes: dict[int, dict[str, int]] = {size: {} for size in envs}
    order = random.Random(17)  # the same sequence of orders on every run
    try:
        for _ in range(requests):
            pairs = [(size, page) for size in envs for page in PAGES]
            order.shuffle(pairs)
            for size, page in pairs:
                answer = servers[size].request(page)
                timings[size][page].append(answer["ms"])
                sizes[size][page] = answer["bytes"]
    finally:
        for server in servers.values():
            server.close()
    return {
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
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[50, 10_000])
    parser.add_argument("--requests", type=int, default=30)
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
            envs[size] = prepare(size, folder)
            print(f"seeded {size} agents in {time.perf_counter() - started:.0f} s", flush=True)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        results = measure(envs, args.requests)
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
    print(
        f"\ntargets: ratio <= {MAX_RATIO}, median <= {MAX_OVER_LIGHT:.0f}x the light page; "
        + ("all met" if not failed else f"missed by: {', '.join(failed)}")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
