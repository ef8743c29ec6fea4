"""Copy the agents ``seed_bulk`` made, by SQL, until the portfolio holds ``--to`` agents.

    DATABASE_URL=... .venv/bin/python bench/multiply.py --to 100000

``seed_bulk --assessed`` runs the engine for every version it approves: minutes of CPU
per 10,000 agents, hours at 100,000 on a busy machine. This copies the rows of the bulk
agents instead (agents, systems, links, assessments with their engine results,
exceptions, reviews), each copy with its ids shifted and ``-cN`` after each slug and
name, in one INSERT ... SELECT per table and copy, on SQLite or PostgreSQL. The
portfolio's shape is the seeded one repeated: the same mix of classes, tiers, gaps,
exceptions and due dates. Then the planner statistics are refreshed and the portfolio
figures marked changed (their computation is queued, or run at once with the immediate
tasks backend, as the bench scripts' preparation uses).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=int, required=True, help="agents wanted in all")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management.color import no_style
    from django.db import connection, transaction

    from assessments.models import (
        Agent,
        AgentLink,
        Assessment,
        GapException,
        Review,
        System,
        portfolio_changed,
    )
    from assessments.portfolio import planner

    base = Agent.objects.filter(slug__startswith="bulk-").exclude(slug__contains="-c")
    lo, hi = min(base.values_list("pk", flat=True)), max(base.values_list("pk", flat=True))
    count = base.count()
    if hi - lo + 1 != count:
        raise SystemExit("The bulk agents' ids are not contiguous: seed them in one run.")
    total = Agent.objects.count()
    copies = max(0, math.ceil((args.to - total) / count))
    models = (Agent, System, AgentLink, Assessment, GapException, Review)
    shift = {
        m: (m.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1 for m in models
    }
    moved = {"agent_id": Agent, "source_id": Agent, "target_id": Agent}
    moved |= {"assessment_id": Assessment, "based_on_id": Assessment}
    moved |= {"closed_by_assessment_id": Assessment}
    where = {
        Agent: f"id BETWEEN {lo} AND {hi}",
        AgentLink: f"source_id BETWEEN {lo} AND {hi}",
    }
    started = time.perf_counter()
    copied = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for k in range(1, copies + 1):
            if total + copied >= args.to:
                break
            # The last copy takes only the agents still missing.
            top = min(hi, lo + (args.to - total - copied) - 1)
            for model in models:
                table = model._meta.db_table
                columns = [f.column for f in model._meta.concrete_fields]
                select = []
                for column in columns:
                    if column == "id":
                        select.append(f"id + {k * shift[model]}")
                    elif column in moved:
                        select.append(f"{column} + {k * shift[moved[column]]}")
                    elif model is Agent and column in ("slug", "name"):
                        select.append(f"{column} || '-c{k}'")
                    else:
                        select.append(column)
                limit = where.get(model, f"agent_id BETWEEN {lo} AND {hi}")
                limit = limit.replace(f"AND {hi}", f"AND {top}")
                quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
                cursor.execute(
                    f"INSERT INTO {table} ({quoted}) SELECT {', '.join(select)} "  # noqa: S608
                    f"FROM {table} WHERE {limit}"
                )
            copied += top - lo + 1
            print(f"copy {k}: {total + copied} agents", flush=True)
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)
    planner.refresh_planner_statistics(models)
    print(f"copied {copied} agents in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    portfolio_changed()
    print(f"figures marked changed in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
