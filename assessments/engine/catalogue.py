"""The control catalogue: frameworks, controls, their conditions and mappings.

The catalogue is data (``assessments/catalog/catalogue-v*.yaml``, or rows an
administrator edits). :meth:`Catalogue.from_dict` checks it and
:meth:`Catalogue.to_dict` gives the same shape back, so the web app can store it
and rebuild it. Conditions are compiled once, when the catalogue is built.

A condition is a list of clauses (any may match); a clause maps a fact to the values
it must take (all must hold). A clause matches only when every fact it names is
known: a missing answer never satisfies a clause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from .terms import DERIVED_FACT_NAMES, DERIVED_FACTS, FACT_VALUES

BUNDLED_CATALOGUE = Path(__file__).resolve().parent.parent / "catalog" / "catalogue-v1.yaml"

STATUSES: tuple[str, ...] = ("in_place", "gap", "unknown")
_MEMO_LIMIT = 10_000

Clause = tuple[tuple[str, tuple[Any, ...]], ...]
Condition = tuple[Clause, ...]
CompiledCondition = tuple[tuple[tuple[str, frozenset[Any]], ...], ...]


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (unknown fact, dangling mapping, ...)."""


@dataclass(frozen=True, slots=True)
class FrameworkItem:
    id: str
    title: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Framework:
    key: str
    name: str
    short_name: str
    items: tuple[FrameworkItem, ...]
    version: str = ""
    publisher: str = ""
    url: str = ""
    notes: tuple[str, ...] = ()
    # (level name, the framework's real number of items at that level), top level first:
    # coverage is counted one level at a time out of these, not out of the items listed.
    levels: tuple[tuple[str, int], ...] = ()

    def item(self, item_id: str) -> FrameworkItem | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass(frozen=True, slots=True)
class ControlMapping:
    framework: str
    item: str
    justification: str


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    title: str
    description: str
    applies_when: Condition
    in_place_when: Condition = ()
    gap_when: Condition = ()
    mappings: tuple[ControlMapping, ...] = ()


@dataclass(frozen=True, slots=True)
class ReferenceNote:
    """A citation in the source guidance checked against the frameworks, and what to cite."""

    cited: str
    verdict: str
    status: str = "invalid"  # invalid | valid
    use: tuple[tuple[str, str], ...] = ()  # (framework key, item id) to cite instead


@dataclass(frozen=True, slots=True)
class _CompiledControl:
    index: int
    applies: CompiledCondition
    in_place: CompiledCondition
    gap: CompiledCondition
    entries: Mapping[str, Mapping[str, str]]  # status -> read-only {"id","title","status"}
    # Picks, from the evaluation's fact values (see Catalogue._fact_names), those that
    # in_place_when and gap_when name. They are the key of ``memo``, which holds the
    # control's entry for them: facts have a few values each, so the memo stays small,
    # and it is what makes controls cheap.
    status_key: Callable[[tuple[Any, ...]], Any]
    memo: dict[Any, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class _Required:
    """The controls that apply for one set of applies_when facts, and their mappings."""

    mappings: Mapping[str, tuple[str, ...]]
    # Per control that applies: (status_key, memo, control), unpacked in the hot loop.
    plan: tuple[tuple[Callable[[tuple[Any, ...]], Any], dict[Any, Mapping[str, str]], Any], ...]


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    frameworks: tuple[Framework, ...]
    controls: tuple[Control, ...]
    reference_notes: tuple[ReferenceNote, ...] = ()
    _compiled: tuple[_CompiledControl, ...] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _answer_facts: tuple[str, ...] = field(init=False, repr=False, compare=False, hash=False)
    _fact_names: tuple[str, ...] = field(init=False, repr=False, compare=False, hash=False)
    _applies_key: Callable[[tuple[Any, ...]], Any] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _required_memo: dict[Any, _Required] = field(init=False, repr=False, compare=False, hash=False)
    _item_rank: Mapping[str, Mapping[str, int]] = field(
        init=False, repr=False, compare=False, hash=False
    )
    _mapping_cache: dict[tuple[int, ...], Mapping[str, tuple[str, ...]]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        _check(self)
        named = _facts_named(
            *(cond for c in self.controls for cond in (c.applies_when, c.gap_when, c.in_place_when))
        )
        # Fact values are read as one tuple per evaluation: the answers the conditions
        # name, then every derived fact (DERIVED_FACT_NAMES order).
        answer_facts = tuple(f for f in named if f not in DERIVED_FACTS)
        fact_names = answer_facts + DERIVED_FACT_NAMES
        position = {name: n for n, name in enumerate(fact_names)}

        def picker(*conditions: Condition) -> Callable[[tuple[Any, ...]], Any]:
            facts = _facts_named(*conditions)
            return itemgetter(*(position[f] for f in facts)) if facts else _no_key

        compiled = tuple(
            _CompiledControl(
                index=index,
                applies=_compile(c.applies_when),
                in_place=_compile(c.in_place_when),
                gap=_compile(c.gap_when),
                entries=MappingProxyType(
                    {
                        s: MappingProxyType({"id": c.id, "title": c.title, "status": s})
                        for s in STATUSES
                    }
                ),
                status_key=picker(c.gap_when, c.in_place_when),
                memo={},
            )
            for index, c in enumerate(self.controls)
        )
        ranks = {
            fw.key: MappingProxyType({item.id: n for n, item in enumerate(fw.items)})
            for fw in self.frameworks
        }
        set_ = object.__setattr__
        set_(self, "_compiled", compiled)
        set_(self, "_answer_facts", answer_facts)
        set_(self, "_fact_names", fact_names)
        set_(
            self,
            "_applies_key",
            picker(*(c.applies_when for c in self.controls)),
        )
        set_(self, "_required_memo", {})
        set_(self, "_item_rank", MappingProxyType(ranks))
        set_(self, "_mapping_cache", {})

    # ------------------------------------------------------------------ lookups

    def framework(self, key: str) -> Framework | None:
        return next((f for f in self.frameworks if f.key == key), None)

    def control(self, control_id: str) -> Control | None:
        return next((c for c in self.controls if c.id == control_id), None)

    def assess_controls(
        self, answers: Mapping[str, Any], derived: tuple[Any, ...]
    ) -> tuple[tuple[Mapping[str, str], ...], Mapping[str, tuple[str, ...]]]:
        """The required controls, each ``{id, title, status}``, and their framework mappings.

        ``derived`` holds the values of DERIVED_FACT_NAMES, in that order (None: unknown).
        """
        values = tuple(map(answers.get, self._answer_facts)) + derived
        key = self._applies_key(values)
        required = self._required_memo.get(key)
        if required is None:
            fact = dict(zip(self._fact_names, values, strict=True)).get
            applying = tuple(c for c in self._compiled if _matches(c.applies, fact))
            required = _Required(
                self.mappings_for(tuple(c.index for c in applying)),
                tuple((c.status_key, c.memo, c) for c in applying),
            )
            if len(self._required_memo) < _MEMO_LIMIT:  # validated answers never get near
                self._required_memo[key] = required
        entries = []
        for status_key, memo, control in required.plan:
            key = status_key(values)
            entry = memo.get(key)
            if entry is None:
                entry = self._status(control, values)
                if len(memo) < _MEMO_LIMIT:
                    memo[key] = entry
            entries.append(entry)
        return tuple(entries), required.mappings

    def _status(self, control: _CompiledControl, values: tuple[Any, ...]) -> Mapping[str, str]:
        fact = dict(zip(self._fact_names, values, strict=True)).get
        if _matches(control.gap, fact):
            return control.entries["gap"]
        if _matches(control.in_place, fact):
            return control.entries["in_place"]
        return control.entries["unknown"]

    def mappings_for(self, control_indexes: tuple[int, ...]) -> Mapping[str, tuple[str, ...]]:
        """Framework key -> item ids (framework order) mapped from these controls.

        Only a handful of control sets occur in practice, so the answer is cached.
        """
        cached = self._mapping_cache.get(control_indexes)
        if cached is not None:
            return cached
        found: dict[str, set[str]] = {}
        for index in control_indexes:
            for m in self.controls[index].mappings:
                found.setdefault(m.framework, set()).add(m.item)
        result = MappingProxyType(
            {
                fw.key: tuple(sorted(found[fw.key], key=self._item_rank[fw.key].__getitem__))
                for fw in self.frameworks
                if fw.key in found
            }
        )
        self._mapping_cache[control_indexes] = result
        return result

    # ------------------------------------------------------------------ plain data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        """Build (and check) a catalogue from plain data: the YAML file or database rows."""
        try:
            return cls(
                version=str(data["version"]),
                frameworks=tuple(_framework(f) for f in data["frameworks"]),
                controls=tuple(_control(c) for c in data["controls"]),
                reference_notes=tuple(_note(n) for n in data.get("reference_notes") or ()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise CatalogueError(f"Catalogue data is malformed: {exc!r}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "frameworks": [
                {
                    "key": f.key,
                    "name": f.name,
                    "short_name": f.short_name,
                    "version": f.version,
                    "publisher": f.publisher,
                    "url": f.url,
                    **({"notes": list(f.notes)} if f.notes else {}),
                    **(
                        {"levels": [{"name": n, "total": t} for n, t in f.levels]}
                        if f.levels
                        else {}
                    ),
                    "items": [
                        {"id": i.id, "title": i.title}
                        | ({"parent": i.parent} if i.parent is not None else {})
                        for i in f.items
                    ],
                }
                for f in self.frameworks
            ],
            "controls": [
                {
                    "id": c.id,
                    "title": c.title,
                    "description": c.description,
                    "applies_when": _condition_to_data(c.applies_when),
                    "in_place_when": _condition_to_data(c.in_place_when),
                    "gap_when": _condition_to_data(c.gap_when),
                    "mappings": [
                        {"framework": m.framework, "item": m.item, "justification": m.justification}
                        for m in c.mappings
                    ],
                }
                for c in self.controls
            ],
            "reference_notes": [
                {"cited": n.cited, "status": n.status, "verdict": n.verdict}
                | ({"use": [{"framework": f, "item": i} for f, i in n.use]} if n.use else {})
                for n in self.reference_notes
            ],
        }


# ---------------------------------------------------------------------- building


def _framework(data: Mapping[str, Any]) -> Framework:
    return Framework(
        key=str(data["key"]),
        name=str(data["name"]),
        short_name=str(data.get("short_name") or data["name"]),
        version=str(data.get("version") or ""),
        publisher=str(data.get("publisher") or ""),
        url=str(data.get("url") or ""),
        notes=tuple(str(n) for n in data.get("notes") or ()),
        levels=tuple((str(v["name"]), int(v["total"])) for v in data.get("levels") or ()),
        items=tuple(
            FrameworkItem(
                id=str(i["id"]),
                title=str(i["title"]),
                parent=None if i.get("parent") is None else str(i["parent"]),
            )
            for i in data["items"]
        ),
    )


def _condition(data: Any, where: str) -> Condition:
    if data is None:
        return ()
    if not isinstance(data, list | tuple):
        raise CatalogueError(f"{where} must be a list of clauses, not {data!r}.")
    clauses = []
    for clause in data:
        if not isinstance(clause, Mapping) or not clause:
            raise CatalogueError(
                f"{where}: each clause must be a non-empty mapping, not {clause!r}."
            )
        terms = []
        for fact, values in clause.items():
            if not isinstance(values, list | tuple) or not values:
                raise CatalogueError(
                    f"{where}: fact {fact!r} needs a non-empty list of values, not {values!r}."
                )
            terms.append((str(fact), tuple(values)))
        clauses.append(tuple(terms))
    return tuple(clauses)


def _control(data: Mapping[str, Any]) -> Control:
    cid = str(data["id"])
    return Control(
        id=cid,
        title=str(data["title"]),
        description=str(data.get("description") or ""),
        applies_when=_condition(data["applies_when"], f"Control {cid} applies_when"),
        in_place_when=_condition(data.get("in_place_when"), f"Control {cid} in_place_when"),
        gap_when=_condition(data.get("gap_when"), f"Control {cid} gap_when"),
        mappings=tuple(
            ControlMapping(
                framework=str(m["framework"]),
                item=str(m["item"]),
                justification=str(m["justification"]),
            )
            for m in data.get("mappings") or ()
        ),
    )


def _note(data: Mapping[str, Any]) -> ReferenceNote:
    return ReferenceNote(
        cited=str(data["cited"]),
        verdict=str(data["verdict"]),
        status=str(data.get("status") or "invalid"),
        use=tuple((str(u["framework"]), str(u["item"])) for u in data.get("use") or ()),
    )


def _condition_to_data(condition: Condition) -> list[dict[str, list[Any]]]:
    return [{fact: list(values) for fact, values in clause} for clause in condition]


def _matches(condition: CompiledCondition, fact: Any) -> bool:
    for clause in condition:
        for name, allowed in clause:
            if fact(name) not in allowed:
                break
        else:
            return True
    return False


def _no_key(values: tuple[Any, ...]) -> None:
    """The key for conditions that name no fact (a control that is always unknown)."""
    return None


def _facts_named(*conditions: Condition) -> tuple[str, ...]:
    return tuple(
        dict.fromkeys(
            fact for condition in conditions for clause in condition for fact, _ in clause
        )
    )


def _compile(condition: Condition) -> CompiledCondition:
    return tuple(
        tuple((fact, frozenset(values)) for fact, values in clause) for clause in condition
    )


def _check(cat: Catalogue) -> None:
    """Refuse a catalogue the engine could not apply faithfully."""
    items: dict[str, set[str]] = {}
    for fw in cat.frameworks:
        if fw.key in items:
            raise CatalogueError(f"Framework {fw.key!r} is listed twice.")
        seen: set[str] = set()
        for item in fw.items:
            if item.id in seen:
                raise CatalogueError(f"Framework {fw.key!r} lists item {item.id!r} twice.")
            if item.parent is not None and item.parent not in seen:
                raise CatalogueError(
                    f"Framework {fw.key!r} item {item.id!r} names parent {item.parent!r}, "
                    "which is not an earlier item of that framework."
                )
            if not item.title:
                raise CatalogueError(f"Framework {fw.key!r} item {item.id!r} has no title.")
            seen.add(item.id)
        items[fw.key] = seen

    def check_ref(framework: str, item: str, where: str) -> None:
        if framework not in items:
            raise CatalogueError(f"{where} names framework {framework!r}, which is not listed.")
        if item not in items[framework]:
            raise CatalogueError(
                f"{where} names {framework} item {item!r}, which the framework does not have."
            )

    control_ids: set[str] = set()
    for c in cat.controls:
        if c.id in control_ids:
            raise CatalogueError(f"Control {c.id!r} is listed twice.")
        control_ids.add(c.id)
        if not c.applies_when:
            raise CatalogueError(f"Control {c.id} has no applies_when: it could never apply.")
        for label, condition in (
            ("applies_when", c.applies_when),
            ("in_place_when", c.in_place_when),
            ("gap_when", c.gap_when),
        ):
            for clause in condition:
                for fact, values in clause:
                    if fact not in FACT_VALUES:
                        raise CatalogueError(
                            f"Control {c.id} {label} tests unknown fact {fact!r}; known facts: "
                            f"{', '.join(FACT_VALUES)}."
                        )
                    allowed = FACT_VALUES[fact]
                    for value in values:
                        # ``1 in (True, False)`` is true in Python; compare types too.
                        if not any(type(value) is type(a) and value == a for a in allowed):
                            raise CatalogueError(
                                f"Control {c.id} {label}: {value!r} is not a value of fact "
                                f"{fact!r}; allowed values: {', '.join(map(str, allowed))}."
                            )
        pairs: set[tuple[str, str]] = set()
        for m in c.mappings:
            check_ref(m.framework, m.item, f"Control {c.id} mapping")
            if (m.framework, m.item) in pairs:
                raise CatalogueError(f"Control {c.id} maps to {m.framework} {m.item} twice.")
            pairs.add((m.framework, m.item))
    for note in cat.reference_notes:
        if note.status not in ("invalid", "valid"):
            raise CatalogueError(
                f"Reference note {note.cited!r} has status {note.status!r}; "
                "allowed values: invalid, valid."
            )
        for framework, item_id in note.use:
            check_ref(framework, item_id, f"Reference note {note.cited!r}")


# ---------------------------------------------------------------------- loading


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Read a catalogue YAML file; without a path, the bundled one (read once)."""
    if path is None:
        return _bundled_catalogue()
    return _read(Path(path))


@cache
def _bundled_catalogue() -> Catalogue:
    return _read(BUNDLED_CATALOGUE)


def _read(path: Path) -> Catalogue:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, Mapping):
        raise CatalogueError(f"{path} does not hold a catalogue mapping.")
    return Catalogue.from_dict(data)
