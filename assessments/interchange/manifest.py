"""Manifests: an assessment as code (../shared/decision-model.md, "The manifest").

A manifest is a YAML or JSON object with an ``agent`` block and the engine's
``answers``; a file holds one manifest or a list of them. This module reads and
checks manifests strictly (an unknown key, a wrong type or a value outside its set is
an error naming the file, the key and what is allowed) and returns answers ready for
:func:`assessments.engine.evaluate`.

Pure Python, no Django: ``manage.py assess`` and the API share it. The one thing it
needs from the inventory, the systems of linked agents given as bare slugs, is
passed in as a callable (:data:`InventoryLookup`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from assessments.engine import AnswerError, validate_answers

TOP_LEVEL_KEYS: tuple[str, ...] = ("agent", "answers")
AGENT_KEYS: tuple[str, ...] = ("name", "slug", "owner", "sponsor", "successors", "description")
REQUIRED_AGENT_KEYS: tuple[str, ...] = ("name", "slug")
# The inventory's limits (Agent.slug and Agent.name), so a manifest agent can be filed.
AGENT_KEY_LIMITS: dict[str, int] = {
    "slug": 100,
    "name": 200,
    "owner": 254,
    "sponsor": 254,
    "successors": 254,  # each
    "description": 2000,
}
MAX_SUCCESSORS = 3  # as the inventory keeps (actions.ownership.MAX_SUCCESSORS)
SLUG_PATTERN = re.compile(r"[-a-zA-Z0-9_]+")
FORMATS: tuple[str, ...] = ("json", "yaml")
SUFFIX_FORMATS: dict[str, str] = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
# A manifest is a short text file; anything larger is a mistake (or an attack on the parser).
MAX_BYTES = 1024 * 1024

# slugs -> {slug: systems} for the slugs the inventory knows; unknown slugs are left out.
InventoryLookup = Callable[[Sequence[str]], Mapping[str, Sequence[Mapping[str, str]]]]


class ManifestError(ValueError):
    """A manifest that cannot be read or breaks the contract.

    ``file`` is the file as given, ``position`` the manifest's 1-based place when the
    file holds a list, ``key`` the dotted key at fault (``answers.decision_mode``,
    ``agent.slug``; None when the whole file is at fault) and ``allowed`` what would be
    accepted there. ``str()`` is one line naming all of them.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        key: str | None = None,
        allowed: Sequence[str] | None = None,
        position: int | None = None,
        noun: str = "values",
    ):
        self.file = file
        self.message = message
        self.key = key
        self.allowed = tuple(allowed) if allowed else None
        self.position = position
        where = file if position is None else f"{file} [manifest {position}]"
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        if self.allowed and "allowed " not in message:
            text = f"{text.rstrip('.')}; allowed {noun}: {', '.join(self.allowed)}."
        elif not text.endswith("."):
            text += "."
        super().__init__(text)


class ManifestErrors(ValueError):
    """Every error found in a set of files (one per bad manifest), for one report."""

    def __init__(self, errors: Iterable[ManifestError]):
        self.errors = tuple(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True, slots=True)
class Manifest:
    """One validated manifest: the agent it describes and its answers for the engine."""

    file: str
    agent: Mapping[str, Any]  # text values; "successors" is a list of text
    answers: Mapping[str, Any]
    position: int | None = None  # 1-based, when the file holds a list
    # Linked agents given as bare slugs, after the inventory lookup.
    found_in_inventory: tuple[str, ...] = field(default=())
    not_in_inventory: tuple[str, ...] = field(default=())

    @property
    def bare_slugs(self) -> tuple[str, ...]:
        """Linked agents named by slug alone: their systems come from the inventory."""
        return tuple(
            a["slug"] for a in self.answers.get("linked_agents") or () if a["systems"] is None
        )


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """What one file held: its manifests, and whether it held a list of them."""

    file: str
    manifests: tuple[Manifest, ...]
    is_list: bool


# --------------------------------------------------------------------------- parsing


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (it keeps the last)."""


def _mapping_without_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found a key that is not text",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found the key {key!r} twice",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def _json_object(file: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ManifestError(
                    file, f"is not valid JSON: the key {key!r} appears twice in one object"
                )
            result[key] = value
        return result

    return build


def format_of(file: str | Path, text: str) -> str:
    """``json`` or ``yaml``: by the file's extension, else by its content."""
    known = SUFFIX_FORMATS.get(Path(file).suffix.lower())
    if known:
        return known
    return "json" if text.lstrip()[:1] in ("{", "[") else "yaml"


def parse_text(text: str, *, file: str, fmt: str | None = None) -> Any:
    """The data in ``text``, read as ``fmt`` (or as :func:`format_of` decides).

    Content that looks like JSON but is not valid JSON is read as YAML (JSON's flow
    syntax is YAML too), and only when neither reads is it an error.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"Unknown manifest format {fmt!r}; allowed formats: json, yaml.")
    chosen = fmt or format_of(file, text)
    if chosen == "json":
        try:
            return json.loads(text, object_pairs_hook=_json_object(file))
        except json.JSONDecodeError as exc:
            if fmt is None and Path(file).suffix.lower() not in SUFFIX_FORMATS:
                try:
                    return _load_yaml(text, file)
                except ManifestError:
                    pass
            raise ManifestError(
                file, f"is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
    return _load_yaml(text, file)


def _load_yaml(text: str, file: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ManifestError(file, f"is not valid YAML: {problem}{at}") from None


def read_text(path: str | Path) -> str:
    """The file's text; any reason it cannot be read is a :class:`ManifestError`."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(file, "cannot be read: there is no such file") from None
    except IsADirectoryError:
        raise ManifestError(file, "cannot be read: it is a directory, not a file") from None
    except OSError as exc:
        raise ManifestError(file, f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise ManifestError(
            file, f"is larger than {MAX_BYTES // 1024} KiB; a manifest is a short text file"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            file, f"is not UTF-8 text (undecodable byte at offset {exc.start})"
        ) from None


# --------------------------------------------------------------------------- checking


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {'true' if value else 'false'}"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def check_manifest(data: Any, *, file: str, position: int | None = None) -> Manifest:
    """Check one manifest object and return it with normalised answers.

    Linked agents given as slugs keep ``systems: None`` until
    :func:`resolve_linked_agents` looks them up.
    """

    def fail(message: str, **kwargs: Any) -> ManifestError:
        return ManifestError(file, message, position=position, **kwargs)

    if not isinstance(data, Mapping):
        raise fail(
            f"a manifest must be an object with 'agent' and 'answers', not {_show(data)}",
            allowed=TOP_LEVEL_KEYS,
            noun="keys",
        )
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise fail(
                f"unknown top-level key {key!r} (an unknown key is an error, not ignored)",
                key=str(key),
                allowed=TOP_LEVEL_KEYS,
                noun="keys",
            )
    for key in TOP_LEVEL_KEYS:
        if key not in data:
            raise fail(f"the manifest has no {key!r}", key=key, allowed=TOP_LEVEL_KEYS, noun="keys")
    agent = _check_agent(data["agent"], fail)
    answers_data = data["answers"]
    if not isinstance(answers_data, Mapping):
        raise fail(
            f"'answers' must be an object of answer keys and values, not {_show(answers_data)}",
            key="answers",
        )
    try:
        answers = validate_answers(answers_data)
    except AnswerError as exc:
        # str(exc) already names the allowed values (or keys).
        raise fail(str(exc), key=f"answers.{exc.key}") from None
    for linked in answers.get("linked_agents") or ():
        if linked["slug"] == agent["slug"]:
            raise fail(
                f"the agent {agent['slug']!r} cannot be linked to itself",
                key="answers.linked_agents",
            )
    return Manifest(file=file, agent=agent, answers=answers, position=position)


def _check_agent(data: Any, fail: Callable[..., ManifestError]) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise fail(
            f"'agent' must be an object with 'slug' and 'name', not {_show(data)}",
            key="agent",
            allowed=AGENT_KEYS,
            noun="keys",
        )
    for key in data:
        if key not in AGENT_KEYS:
            raise fail(
                f"unknown agent key {key!r} (an unknown key is an error, not ignored)",
                key=f"agent.{key}",
                allowed=AGENT_KEYS,
                noun="keys",
            )
    agent: dict[str, Any] = {}
    for key in AGENT_KEYS:
        value = data.get(key)
        if key == "successors" and value is not None:
            agent[key] = _check_successors(value, fail)
            continue
        if value is None:
            if key in REQUIRED_AGENT_KEYS:
                raise fail(f"the agent needs a {key!r}", key=f"agent.{key}")
            continue
        if not isinstance(value, str) or not value.strip():
            raise fail(f"must be non-empty text, not {_show(value)}", key=f"agent.{key}")
        value = value.strip()
        limit = AGENT_KEY_LIMITS[key]
        if len(value) > limit:
            raise fail(f"is {len(value)} characters long; at most {limit}", key=f"agent.{key}")
        if key == "slug" and not SLUG_PATTERN.fullmatch(value):
            raise fail(
                f"{value!r} is not a slug: use letters, numbers, hyphens and underscores",
                key="agent.slug",
            )
        agent[key] = value
    return agent


def _check_successors(value: Any, fail: Callable[..., ManifestError]) -> list[str]:
    """A list of people (usernames or e-mails), in the order they take over."""
    if not isinstance(value, list):
        raise fail(
            f"must be a list of usernames or e-mails, not {_show(value)}", key="agent.successors"
        )
    if len(value) > MAX_SUCCESSORS:
        raise fail(f"names {len(value)} people; at most {MAX_SUCCESSORS}", key="agent.successors")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise fail(f"each must be non-empty text, not {_show(item)}", key="agent.successors")
        if len(item.strip()) > AGENT_KEY_LIMITS["successors"]:
            raise fail(
                f"“{item.strip()[:40]}…” is longer than {AGENT_KEY_LIMITS['successors']}",
                key="agent.successors",
            )
        out.append(item.strip())
    return out


def load_file(path: str | Path, *, fmt: str | None = None) -> ManifestFile:
    """Read and check every manifest in one file.

    Raises the first :class:`ManifestError` of each manifest, gathered in a
    :class:`ManifestErrors` when the file holds several bad ones.
    """
    file = str(path)
    data = parse_text(read_text(path), file=file, fmt=fmt)
    if data is None:
        raise ManifestError(file, "is empty; it must hold a manifest object or a list of them")
    if isinstance(data, list):
        if not data:
            raise ManifestError(file, "holds an empty list; list at least one manifest")
        manifests, errors = [], []
        for position, item in enumerate(data, start=1):
            try:
                manifests.append(check_manifest(item, file=file, position=position))
            except ManifestError as exc:
                errors.append(exc)
        if errors:
            raise ManifestErrors(errors)
        return ManifestFile(file=file, manifests=tuple(manifests), is_list=True)
    if not isinstance(data, Mapping):
        raise ManifestError(
            file,
            f"must hold a manifest object (or a list of them), not {_show(data)}",
            allowed=TOP_LEVEL_KEYS,
            noun="top-level keys",
        )
    return ManifestFile(file=file, manifests=(check_manifest(data, file=file),), is_list=False)


def load_files(paths: Sequence[str | Path]) -> list[ManifestFile]:
    """Check every file before anything is assessed; all errors are reported together."""
    loaded: list[ManifestFile] = []
    errors: list[ManifestError] = []
    for path in paths:
        try:
            loaded.append(load_file(path))
        except ManifestErrors as exc:
            errors.extend(exc.errors)
        except ManifestError as exc:
            errors.append(exc)
    if errors:
        raise ManifestErrors(errors)
    return loaded


# --------------------------------------------------------------------------- inventory


def resolve_linked_agents(
    manifests: Sequence[Manifest], lookup: InventoryLookup | None
) -> list[Manifest]:
    """Give linked agents named by slug alone their systems from the inventory.

    ``lookup`` is called once, with every such slug; a slug it does not return stays
    bare (its systems unknown), and is listed in ``not_in_inventory``. A linked agent
    that declares its own systems in the manifest keeps them.
    """
    wanted = sorted({slug for m in manifests for slug in m.bare_slugs})
    found: Mapping[str, Sequence[Mapping[str, str]]] = (
        lookup(wanted) if (lookup is not None and wanted) else {}
    )
    resolved = []
    for manifest in manifests:
        bare = manifest.bare_slugs
        if not bare:
            resolved.append(manifest)
            continue
        linked = [
            {"slug": a["slug"], "systems": [dict(s) for s in found[a["slug"]]]}
            if a["systems"] is None and a["slug"] in found
            else a
            for a in manifest.answers["linked_agents"]
        ]
        try:
            answers = validate_answers({**manifest.answers, "linked_agents": linked})
        except AnswerError as exc:  # the inventory broke the contract; say where
            raise ManifestError(
                manifest.file,
                f"the inventory's systems for a linked agent are invalid: {exc}",
                key="answers.linked_agents",
                position=manifest.position,
            ) from None
        resolved.append(
            replace(
                manifest,
                answers=answers,
                found_in_inventory=tuple(s for s in bare if s in found),
                not_in_inventory=tuple(s for s in bare if s not in found),
            )
        )
    return resolved
