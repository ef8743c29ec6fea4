"""How far the portfolio's approved assessments cover each framework, level by level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LevelCoverage:
    """One level of one framework: how many of its items are addressed, out of the
    framework's real number of items at that level (catalogue ``levels``)."""

    name: str
    addressed: int
    total: int

    @property
    def text(self) -> str:
        return f"{self.name} {self.addressed} of {self.total}"


def item_depths(framework: dict[str, Any]) -> dict[str, int]:
    """Each item's level in its framework: 0 for a top-level item, 1 for its children..."""
    parents = {i["id"]: i.get("parent") for i in framework["items"]}
    depths: dict[str, int] = {}
    for item_id in parents:
        depth, seen, parent = 0, {item_id}, parents[item_id]
        while parent is not None and parent in parents and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = parents[parent]
        depths[item_id] = depth
    return depths


def with_ancestors(framework: dict[str, Any], item_ids: set[str]) -> set[str]:
    """``item_ids`` and every parent above them: a parent is addressed when any child is."""
    parents = {i["id"]: i.get("parent") for i in framework["items"]}
    out: set[str] = set()
    for start in item_ids:
        item_id: str | None = start
        while item_id is not None and item_id not in out:
            out.add(item_id)
            item_id = parents.get(item_id)
    return out


def control_items(catalogue: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """control id -> framework key -> the items it maps to (from catalogue data)."""
    out: dict[str, dict[str, set[str]]] = {}
    for control in catalogue["controls"]:
        by_framework: dict[str, set[str]] = {}
        for m in control.get("mappings") or []:
            by_framework.setdefault(m["framework"], set()).add(m["item"])
        out[control["id"]] = by_framework
    return out


def addressed_items(
    catalogue: dict[str, Any], controls: list[dict[str, Any]], status: str = "in_place"
) -> dict[str, set[str]]:
    """framework key -> items addressed by the controls whose status is ``status``
    (``in_place``: addressed), with their parents. A gap or unknown control addresses
    nothing."""
    mapped = control_items(catalogue)
    frameworks = {fw["key"]: fw for fw in catalogue["frameworks"]}
    direct: dict[str, set[str]] = {}
    for control in controls:
        if control.get("status") != status:
            continue
        for key, items in mapped.get(control["id"], {}).items():
            direct.setdefault(key, set()).update(items)
    return {
        key: with_ancestors(frameworks[key], items)
        for key, items in direct.items()
        if key in frameworks
    }


def level_coverage(framework: dict[str, Any], addressed: set[str]) -> list[LevelCoverage]:
    """Coverage of one framework one level at a time: distinct addressed items at each
    level, out of the framework's real total at that level (never more than it)."""
    depths = item_depths(framework)
    levels = framework.get("levels") or [
        {"name": "items", "total": sum(1 for d in depths.values() if d == 0)}
    ]
    out = []
    for depth, level in enumerate(levels):
        n = sum(1 for i in addressed if depths.get(i) == depth)
        out.append(LevelCoverage(str(level["name"]), min(n, int(level["total"])), level["total"]))
    return out


@dataclass
class ItemCoverage:
    """One framework item across the portfolio: distinct agents for which a mapped
    control (on it or a child) is in place, and those with only gaps there."""

    id: str
    title: str
    depth: int
    in_place: int = 0
    gap_only: int = 0


def portfolio_coverage(
    latest: list[dict[str, Any]], catalogues: dict[int, dict[str, Any]], current: int
) -> dict[str, Any]:
    """Coverage across the latest approved assessments ``latest`` (rows with
    ``agent_id``, ``catalogue_id`` and ``controls``), on the items of the current
    catalogue (``catalogues[current]``); agents decided under an older catalogue count
    through that version's mappings, matched by framework key and item id.

    Returns ``{"assessed": n, "frameworks": [{key, name, items: [ItemCoverage],
    levels: [LevelCoverage], unmapped: [ids]}]}``; per item, ``in_place + gap_only`` is
    at most ``assessed``. A level counts items addressed for at least one agent."""
    current_data = catalogues[current]
    in_place: dict[tuple[str, str], int] = {}
    gap: dict[tuple[str, str], int] = {}
    for row in latest:
        data = catalogues.get(row["catalogue_id"]) or current_data
        controls = row.get("controls") or []
        good = addressed_items(data, controls, "in_place")
        bad = addressed_items(data, controls, "gap")
        for key, reached in good.items():
            for item in reached:
                in_place[(key, item)] = in_place.get((key, item), 0) + 1
        for key, reached in bad.items():
            for item in reached - good.get(key, set()):
                gap[(key, item)] = gap.get((key, item), 0) + 1
    mapped_anywhere: set[tuple[str, str]] = set()
    for data in catalogues.values():
        frameworks = {fw["key"]: fw for fw in data["frameworks"]}
        for by_framework in control_items(data).values():
            for key, mapped in by_framework.items():
                if key in frameworks:
                    mapped_anywhere |= {(key, i) for i in with_ancestors(frameworks[key], mapped)}
    out = []
    for fw in current_data["frameworks"]:
        depths = item_depths(fw)
        items: list[ItemCoverage] = []
        unmapped: list[str] = []
        for it in fw["items"]:
            item_key = (fw["key"], it["id"])
            if item_key not in mapped_anywhere:
                unmapped.append(it["id"])
                continue
            items.append(
                ItemCoverage(
                    it["id"],
                    it["title"],
                    depths[it["id"]],
                    in_place.get(item_key, 0),
                    gap.get(item_key, 0),
                )
            )
        addressed = {i.id for i in items if i.in_place}
        out.append(
            {
                "key": fw["key"],
                "name": fw["short_name"],
                "items": items,
                "levels": level_coverage(fw, addressed),
                "unmapped": unmapped,
            }
        )
    return {"assessed": len(latest), "frameworks": out}


# --------------------------------------------------------------------------- dashboard snapshot
