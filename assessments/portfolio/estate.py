"""Discovery's figures: the estate's workload identities, agent-like, linked, shadow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q


@dataclass(frozen=True)
class DiscoveryFigures:
    identities: int  # found by the latest run of their source
    agent_like: int  # likely or possibly agents, found by the latest run
    linked: int  # of those, linked to an inventory agent
    shadow: int  # agent-like, neither linked nor triaged
    machine: int  # triaged as remaining machine identities
    decommission_pending: int
    per_source: list[dict[str, Any]] = field(default_factory=list)

    @property
    def coverage(self) -> int | None:
        """Inventory coverage: agent-like identities linked to an agent, in percent."""
        if not self.agent_like:
            return None
        return round(100 * self.linked / self.agent_like)

    @property
    def any(self) -> bool:
        return bool(self.identities or self.decommission_pending)


def discovery_figures() -> DiscoveryFigures:
    """Every discovery figure, per source and in all, in one query."""
    from assessments import models as m

    rows = list(
        m.DiscoveredIdentity.objects.values("kind", "source")
        .annotate(
            count=Count("pk", filter=m.IDENTITY_PRESENT),
            likely=Count("pk", filter=m.IDENTITY_PRESENT & Q(agent_like="likely")),
            possible=Count("pk", filter=m.IDENTITY_PRESENT & Q(agent_like="possible")),
            agent_like_total=Count("pk", filter=m.IDENTITY_AGENT_LIKE),
            linked=Count("pk", filter=m.IDENTITY_LINKED),
            shadow=Count("pk", filter=m.IDENTITY_SHADOW),
            machine=Count("pk", filter=m.IDENTITY_MACHINE),
            decommission_pending=Count("pk", filter=m.IDENTITY_DECOMMISSION_PENDING),
        )
        .order_by("kind", "source")
    )
    rows = [r for r in rows if r["count"] or r["decommission_pending"]]

    def total(key: str) -> int:
        return sum(r[key] for r in rows)

    return DiscoveryFigures(
        identities=total("count"),
        agent_like=total("agent_like_total"),
        linked=total("linked"),
        shadow=total("shadow"),
        machine=total("machine"),
        decommission_pending=total("decommission_pending"),
        per_source=rows,
    )


def discovery_latest_runs(limit: int = 200) -> list[Any]:
    """The latest run of each source (and runs still being read or that failed, newest
    first), for the Discovery page's runs table."""
    from assessments.models import DiscoveryRun

    seen: set[tuple[str, str]] = set()
    out = []
    for run in DiscoveryRun.objects.select_related("started_by").defer("files_summary")[:limit]:
        if run.status != DiscoveryRun.Status.DONE:
            if len(out) < 20:
                out.append(run)
            continue
        key = (run.kind, run.source)
        if key in seen:
            continue
        seen.add(key)
        out.append(run)
    return out
