"""YAML for untrusted evidence files: fast where libyaml is there, strict everywhere.

PyYAML's pure-Python reader takes about a minute for a 20 MiB manifest, so the nodes
are composed by libyaml (``yaml.CSafeLoader``) when the installed PyYAML has it (the
manylinux wheels on PyPI do), document by document, and turned into plain values by
one small builder shared with the pure-Python fallback. Both refuse the same things:

- aliases and anchors (how a "billion laughs" file grows; no manifest needs them);
- tags, except the core schema's (``!!str``, ``!!int``…) and CloudFormation's short
  forms (``!Ref X``, ``!GetAtt A.B``, ``!Sub …``), read as the long form's plain value
  (``{"Ref": "X"}``) and never evaluated;
- nesting deeper than ``max_depth``.

Timestamps stay strings (evidence is compared and stored as JSON). libyaml's composer
reports neither anchors nor aliases (it composes an alias as the same node again), so
a file whose text could hold one (``&name`` or ``*name`` where a node may start) has
its events checked by libyaml first, which refuses it before anything is built; the
pure-Python composer refuses them as it meets them.
"""

from __future__ import annotations

import gc
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

HAS_LIBYAML = bool(getattr(yaml, "__with_libyaml__", False)) and hasattr(yaml, "CSafeLoader")

CORE = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (CORE + t for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ, TIMESTAMP = CORE + "map", CORE + "seq", CORE + "timestamp"
SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, TIMESTAMP})
# CloudFormation's short-form intrinsic functions -> the long form's key.
CFN_TAGS: dict[str, str] = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    **{
        f"!{name}": f"Fn::{name}"
        for name in (
            "And",
            "Base64",
            "Cidr",
            "Equals",
            "FindInMap",
            "GetAtt",
            "GetAZs",
            "If",
            "ImportValue",
            "Join",
            "Length",
            "Not",
            "Or",
            "Select",
            "Split",
            "Sub",
            "ToJsonString",
            "Transform",
        )
    },
}
ALLOWED_EXPLICIT = frozenset({None, "!", STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, *CFN_TAGS})
# An anchor or alias starts with & or * followed by its name, where a node may start:
# at the start of a line or after a space, a flow indicator, ":", "?" or "-".
_NODE_START = frozenset(" \t\r\n[{,:?-")
_NAME_STOP = frozenset(" \t\r\n[]{},")
# Past this many "&" and "*", libyaml's event check is cheaper than looking at each.
_MANY_MARKS = 10_000
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
# The safe resolver's implicit scalar types by first character, as a plain dict.
_IMPLICIT: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    first: tuple(resolvers) for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# Plain scalars already resolved (the same keys and words recur thousands of times).
_RESOLVED: dict[str, str] = {}


def _may_hold_anchor(text: str) -> bool:
    """Whether an ``&`` or ``*`` followed by a name stands where a node may start.
    str.find is memchr: a 20 MiB manifest is looked at in milliseconds (a regex scan of
    every character took 0.2 s)."""
    if text.count("&") + text.count("*") > _MANY_MARKS:
        return True
    for mark in "&*":
        at = text.find(mark)
        while at != -1:
            after = text[at + 1 : at + 2]
            if after and after not in _NAME_STOP and (at == 0 or text[at - 1] in _NODE_START):
                return True
            at = text.find(mark, at + 1)
    return False


class YamlRefused(yaml.YAMLError):
    """The file uses what evidence files may not (an alias, an anchor, a tag)."""


class TooDeep(ValueError):
    pass


def _mark(node_or_event: Any) -> str:
    mark = node_or_event.start_mark
    return f"at line {mark.line + 1}, column {mark.column + 1}"


if HAS_LIBYAML:

    class CLoader(yaml.CSafeLoader):  # type: ignore[misc, name-defined]
        """libyaml's composer with the safe resolver's answer, without its path machinery
        (which SafeLoader never uses): it is called from C once per node."""

        def descend_resolver(self, parent: Any, index: Any) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            if kind is ScalarNode:
                if implicit[0]:
                    known = _RESOLVED.get(value)
                    if known is not None:
                        return known
                    tag = STR
                    for candidate, regexp in _IMPLICIT.get(value[:1], ()):
                        if regexp.match(value):
                            tag = candidate
                            break
                    if len(value) < 40 and len(_RESOLVED) < 100_000:
                        _RESOLVED[value] = tag  # keys and words repeat a great deal
                    return tag
                return STR
            return SEQ if kind is SequenceNode else MAP


class PythonLoader(yaml.SafeLoader):
    """The pure-Python composer, refusing anchors, aliases and other tags as it goes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefused(f"an alias (*{event.anchor}) {_mark(event)}")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlRefused(f"an anchor (&{anchor}) {_mark(event)}")
        tag = getattr(event, "tag", None)
        if tag not in ALLOWED_EXPLICIT:
            raise YamlRefused(f"a tag ({tag}) {_mark(event)}")
        return super().compose_node(parent, index)


def _check_events(data: bytes | str) -> None:
    """libyaml's events, for what its composer does not report: anchors."""
    for event in yaml.parse(data, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefused(f"an alias (*{event.anchor}) {_mark(event)}")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise YamlRefused(f"an anchor (&{anchor}) {_mark(event)}")


def load_all(data: bytes | str, *, max_depth: int, use_libyaml: bool | None = None) -> list[Any]:
    """Every non-empty document of ``data``; YamlRefused, TooDeep or yaml.YAMLError."""
    fast = HAS_LIBYAML if use_libyaml is None else use_libyaml and HAS_LIBYAML
    if fast:
        if _may_hold_anchor(data if isinstance(data, str) else data.decode("utf-8", "replace")):
            _check_events(data)
        loader: Any = CLoader(data)
    else:
        loader = PythonLoader(data)
    documents = []
    # Millions of short-lived nodes: collection passes during the read only cost time.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while loader.check_node():
            node = loader.get_node()
            value = _build(node, 1, max_depth)
            if value is not None:
                documents.append(value)
    finally:
        loader.dispose()
        if gc_was_enabled:
            gc.enable()
    return documents


def _build(node: Any, depth: int, limit: int) -> Any:
    if depth > limit:
        raise TooDeep
    tag = node.tag
    cls = node.__class__
    if cls is ScalarNode:
        if tag == STR:
            return node.value
        if tag in SCALAR_TAGS:
            return _scalar(node, tag)
        if tag in CFN_TAGS:
            return _cfn(tag, node.value)
        raise YamlRefused(f"a tag ({tag}) {_mark(node)}")
    if cls is MappingNode:
        if tag != MAP and tag not in CFN_TAGS:
            raise YamlRefused(f"a tag ({tag}) {_mark(node)}")
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise YamlRefused(f"a mapping or list used as a key {_mark(key_node)}")
            if key_node.tag == STR:
                key = key_node.value
            else:
                key = _build(key_node, depth, limit)
                if isinstance(key, dict | list):
                    raise YamlRefused(f"a tagged key {_mark(key_node)}")
            if value_node.__class__ is ScalarNode and value_node.tag == STR:
                result[key] = value_node.value  # most values: no call
            else:
                result[key] = _build(value_node, depth + 1, limit)
        return _cfn(tag, result) if tag in CFN_TAGS else result
    if cls is SequenceNode:
        if tag != SEQ and tag not in CFN_TAGS:
            raise YamlRefused(f"a tag ({tag}) {_mark(node)}")
        items = [
            item.value
            if item.__class__ is ScalarNode and item.tag == STR
            else _build(item, depth + 1, limit)
            for item in node.value
        ]
        return _cfn(tag, items) if tag in CFN_TAGS else items
    raise YamlRefused(f"an unexpected node {_mark(node)}")  # pragma: no cover


def _scalar(node: ScalarNode, tag: str) -> Any:
    if tag == NULL:
        return None
    if tag == BOOL:
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if tag == INT:
        value = node.value
        if value.isdigit() and value.isascii() and (value[0] != "0" or value == "0"):
            return int(value)  # most integers (ports, replicas): without the constructor
        return _CONSTRUCTOR.construct_yaml_int(node)
    if tag == FLOAT:
        return _CONSTRUCTOR.construct_yaml_float(node)
    return node.value  # timestamps stay as written


def _cfn(tag: str, value: Any) -> dict[str, Any]:
    name = CFN_TAGS[tag]
    if name == "Fn::GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {name: value}
