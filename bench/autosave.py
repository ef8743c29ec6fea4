"""One autosave, request to fragment, on demo data: queries and server time.

    .venv/bin/python bench/autosave.py [--rounds 200] [--bulk 1000]

Builds a throw-away SQLite database (migrations, demo data, optionally seed_bulk
agents), signs in as the demo assessor, opens a draft and posts answers the way the
wizard's htmx autosave does, through Django's full request stack (middleware,
sessions, CSP, audit). Prints the median and 95th percentile server time and the query
count of each request; the query count must not vary, and the median must be at most
30 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_MS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=1000, help="extra seed_bulk agents")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="assessor-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.setdefault("DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnop")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    call_command("load_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    if args.bulk:
        call_command("seed_bulk", agents=args.bulk, stdout=open(os.devnull, "w"))  # noqa: SIM115

    from django.contrib.auth import get_user_model

    from assessments import actions
    from assessments.models import Agent, Assessment

    assessor = get_user_model().objects.get(username="assessor")
    agent = Agent.objects.get(slug="invoice-triage")
    draft = Assessment.objects.open().filter(agent=agent).first() or actions.start_assessment(
        assessor, agent
    )
    client = Client()
    client.force_login(assessor)
    url = f"/agents/{agent.slug}/assessments/{draft.number}/wizard/answer/"
    values = ["context_driven", "planner_executor", "model_assisted", "fixed_script"]

    timings, counts = [], []
    for n in range(args.rounds + 10):
        version = Assessment.objects.values_list("lock_version", flat=True).get(pk=draft.pk)
        data = {
            "question": "decision_mode",
            "decision_mode": values[n % 4],
            "lock_version": version,
        }
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.post(url, data, headers={"HX-Request": "true"})
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            print(f"autosave failed: {response.status_code} {response.content[:200]!r}")
            return 2
        if n >= 10:  # warm-up rounds excluded
            timings.append(elapsed)
            counts.append(len(ctx.captured_queries))

    if os.environ.get("SHOW_QUERIES"):
        for q in ctx.captured_queries:
            print(q["sql"][:160])
    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[18]
    print(f"agents: {Agent.objects.count()}, rounds: {len(timings)}")
    print(
        f"autosave server time: median {median:.1f} ms, p95 {p95:.1f} ms (target median <= {TARGET_MS:.0f} ms)"
    )
    print(f"queries per autosave: {sorted(set(counts))}")
    ok = median <= TARGET_MS and len(set(counts)) == 1
    print("result:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
