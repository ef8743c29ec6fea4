"""Server time of every list and summary page at 50 and at 10,000 agents.

    .venv/bin/python bench/pages.py [--sizes 50 10000] [--requests 30] [--keep FOLDER]

For each size, a fresh SQLite database in a temporary folder is migrated, given the
demo data and ``seed_bulk --assessed`` agents (approved versions with real engine
results, exceptions, open reviews), so that the portfolio holds that many agents. Then,
in a subprocess of its own, the reviewer signs in and each page is requested through
Django's full request stack (middleware, sessions, CSP, audit): one warm-up request,
then the median of ``--requests`` more. A draft is opened for the wizard and the
assessment page.

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


def measure(requests: int) -> dict[str, Any]:
    """In the prepared database: the median server time of each page, as the reviewer."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from assessments import actions
    from assessments.models import Agent, Assessment

    setup_test_environment()
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
    out: dict[str, Any] = {"agents": Agent.objects.count(), "pages": {}}
    for name in PAGES:
        url = urls[name]
        first = client.get(url)
        if first.status_code == 302:  # the wizard opens at its current step
            url = first["Location"]
        timings = []
        size = 0
        for n in range(requests + 1):
            started = time.perf_counter()
            response = client.get(url, follow=False)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{name} ({url}) answered {response.status_code}")
            size = len(response.content)
            if n:  # the first request warms caches and imports
                timings.append(elapsed)
        out["pages"][name] = {"url": url, "median_ms": statistics.median(timings), "bytes": size}
    return out


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
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(measure(args.requests)))
        return 0

    small, large = args.sizes
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="assessor-pages-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in (small, large):
            started = time.perf_counter()
            env = prepare(size, folder)
            print(f"seeded {size} agents in {time.perf_counter() - started:.0f} s", flush=True)
            done = subprocess.run(  # noqa: S603 (this interpreter, this script)
                [sys.executable, __file__, "--measure", "--requests", str(args.requests)],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                raise SystemExit(f"measuring {size} agents failed:\n{done.stderr[-3000:]}")
            results[size] = json.loads(done.stdout.strip().splitlines()[-1])

    a, b = results[small], results[large]
    light = b["pages"]["light"]["median_ms"]
    print(
        f"\nmedian of {args.requests} requests, reviewer signed in; "
        f"{a['agents']} vs {b['agents']} agents; light page = password change\n"
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
