"""What every analyser shares: safe loading of untrusted files, proposals, the output.

Evidence files come from outside (an export, a manifest, a client configuration), so
they are read with a size cap, YAML without tags (but CloudFormation's short forms),
anchors or aliases (:mod:`.yamlsafe`, with libyaml where installed), and JSON with a
bounded depth. Nothing in them is ever run or fetched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

# Secrets inside longer values (issue 23): kept in a module of their own.
from assessments.evidence import redaction

from . import yamlsafe

# The largest evidence file read. An AWS account export for thousands of roles is a
# few megabytes; anything bigger is a mistake or an attack on the parser.
MAX_BYTES = 20 * 1024 * 1024
# Deeper than any real policy, manifest or configuration; bounds a nesting bomb. JSON
# is bounded by orjson's own limit (1,024 levels, checked in C while parsing, so a
# 20 MiB export is not walked again in Python); YAML, whose composer recurses, by ours.
MAX_DEPTH = 64
JSON_MAX_DEPTH = 1024
JSON_SUFFIXES = frozenset({".json"})
YAML_SUFFIXES = frozenset({".yaml", ".yml"})


class EvidenceError(ValueError):
    """A file that cannot be analysed. ``str()`` names the file and says why."""

    def __init__(self, file: str, message: str):
        self.file = file
        self.message = message
        super().__init__(f"{file}: {message}")


class PrincipalNotFound(ValueError):
    """The principal asked about appears in none of the files."""

    def __init__(self, principal: str, kind: str, files: Sequence[str], hint: str = ""):
        self.principal = principal
        names = ", ".join(files)
        text = f"The {kind} principal {principal!r} is not in {names}."
        super().__init__(f"{text} {hint}".strip())


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One parsed file: its name as shown, SHA-256 of its bytes and its documents."""

    name: str
    sha256: str
    documents: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One line that justifies a proposal: the file, where in it, and what it says."""

    file: str
    where: str
    says: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.file, "where": self.where, "says": self.says}


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed answer: key, value, the rule that proposed it and its evidence."""

    key: str
    value: Any
    rule: str
    evidence: tuple[Evidence, ...]

    def __post_init__(self) -> None:
        if not self.evidence:
            raise ValueError(f"proposal {self.key} ({self.rule}) has no evidence")

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "rule": self.rule,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything one analysis proposes, in the contract's JSON shape."""

    kind: str
    principal: str | None
    files: tuple[EvidenceFile, ...]
    proposals: tuple[Proposal, ...] = field(default=())
    # When the files say the principal last acted (AWS: RoleLastUsed, PasswordLastUsed),
    # and which field said so; the agent's last activity (issue 26).
    last_used: dt.date | None = None
    last_used_from: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "principal": self.principal,
            "files": [{"name": f.name, "sha256": f.sha256} for f in self.files],
            "proposals": [p.to_dict() for p in self.proposals],
        }

    def answers(self) -> dict[str, Any]:
        """The proposed values by answer key."""
        return {p.key: p.value for p in self.proposals}


class Proposals:
    """Collects proposals, at most one per key: the first one made for a key wins."""

    def __init__(self) -> None:
        self._by_key: dict[str, Proposal] = {}

    def add(self, key: str, value: Any, rule: str, evidence: Iterable[Evidence]) -> None:
        if key in self._by_key:
            return
        evidence = tuple(dict.fromkeys(evidence))
        if evidence:
            self._by_key[key] = Proposal(key, value, rule, evidence)

    def __contains__(self, key: str) -> bool:
        return key in self._by_key

    def result(self) -> tuple[Proposal, ...]:
        return tuple(self._by_key.values())


# --------------------------------------------------------------------------- loading


def parse_bytes(name: str, data: bytes) -> EvidenceFile:
    """Parse one file's bytes (JSON or YAML, by suffix or by content) safely."""
    if len(data) > MAX_BYTES:
        raise EvidenceError(
            name,
            f"the file is {len(data) / 1024 / 1024:.1f} MiB; evidence files are limited to "
            f"{MAX_BYTES // 1024 // 1024} MiB",
        )
    sha = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvidenceError(name, f"not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise EvidenceError(name, "not a text file (it contains NUL bytes)")
    suffix = Path(name).suffix.lower()
    stripped = text.lstrip()
    as_json = suffix in JSON_SUFFIXES or (
        suffix not in YAML_SUFFIXES and stripped[:1] in ("{", "[")
    )
    if not stripped:
        raise EvidenceError(name, "the file is empty")
    if as_json:
        try:
            documents: tuple[Any, ...] = (orjson.loads(data.removeprefix(b"\xef\xbb\xbf")),)
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc).lower():
                raise EvidenceError(name, f"nested deeper than {JSON_MAX_DEPTH} levels") from None
            raise EvidenceError(name, f"invalid JSON: {exc}") from None
    else:
        try:
            documents = tuple(yamlsafe.load_all(text, max_depth=MAX_DEPTH))
        except yamlsafe.TooDeep:
            raise EvidenceError(name, f"nested deeper than {MAX_DEPTH} levels") from None
        except yaml.YAMLError as exc:
            raise EvidenceError(name, f"invalid or unsafe YAML: {_yaml_problem(exc)}") from None
        except RecursionError:
            raise EvidenceError(name, "invalid YAML: nested too deeply") from None
    if not documents:
        raise EvidenceError(name, "the file holds no document")
    return EvidenceFile(name=name, sha256=sha, documents=documents)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    text = " ".join(str(exc).split())
    if "alias" in text or "anchor" in text:
        return f"{text}; anchors and aliases are not accepted in evidence files"
    if "a tag (" in text:
        return (
            f"{text}; tags are not accepted in evidence files (CloudFormation's short forms "
            "such as !Ref and !GetAtt are)"
        )
    return text


def load_path(path: str | Path) -> EvidenceFile:
    """Read and parse one file from disk, refusing it before reading when too large."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise EvidenceError(
                name,
                f"the file is {size / 1024 / 1024:.1f} MiB; evidence files are limited to "
                f"{MAX_BYTES // 1024 // 1024} MiB",
            )
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise EvidenceError(name, f"cannot be read ({exc.strerror or exc})") from None
    return parse_bytes(name, data)


# --------------------------------------------------------------------------- helpers


def as_list(value: Any) -> list[Any]:
    """A policy field that may be one value or a list of them, as a list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def glob_regex(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """An IAM-style glob (``*`` any run, ``?`` one character) as a compiled regex."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def walk_documents(files: Sequence[EvidenceFile]) -> Iterator[tuple[EvidenceFile, int, Any]]:
    for file in files:
        for position, document in enumerate(file.documents):
            yield file, position, document


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


# -- secrets in evidence -----------------------------------------------------------------

SECRET_NAME = re.compile(
    r"(token|secret|passw(or)?d|api[-_]?key|access[-_]?key|private[-_]?key|credential|"
    r"auth|bearer|session|cookie|^key$|_key$)",
    re.IGNORECASE,
)
# Well-known credential shapes, whatever the variable is called.
SECRET_VALUE = re.compile(
    r"^(bearer\s+\S{8,}|basic\s+\S{8,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|"
    r"sk-[A-Za-z0-9_-]{16,}|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|glpat-[\w-]{20,}|"
    r"AIza[0-9A-Za-z_-]{35})",
    re.IGNORECASE,
)
# A reference to a secret kept elsewhere, not the secret: ${VAR}, $VAR, ${input:x}, {{ x }}.
REFERENCE = re.compile(r"^\s*(\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{[^}]+\}\})\s*$")
# A URL with a password in it: postgresql://user:secret@host/db
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
# Where a secret will be put, not a secret: <YOUR_TOKEN>, YOUR_GITHUB_PAT, [REDACTED…],
# xxx…, ***, changeme, "…", and the same after an auth scheme ("Bearer YOUR_TOKEN").
PLACEHOLDER = re.compile(
    r"^(<[^>]*>|\[[^\]]*\]|x{3,}.*|X{3,}.*|\*+|changeme|change[-_ ]me|replace[-_ ]?me|"
    r"your[-_ ].*|(?:[a-z0-9]+[-_])*your[-_].*|\.\.\.|…|)$",
    re.IGNORECASE,
)
AUTH_SCHEME = re.compile(r"^(bearer|basic|token|apikey|api-key)\s+", re.IGNORECASE)


def is_placeholder(value: Any) -> bool:
    """A value that stands for a secret to be filled in, or one kept elsewhere
    (``${GITHUB_TOKEN}``, ``${input:token}``, ``{{ token }}``)."""
    if not isinstance(value, str):
        return False
    text = AUTH_SCHEME.sub("", value.strip()).strip()
    return bool(PLACEHOLDER.match(text) or REFERENCE.match(text)) or ("${" in text or "{{" in text)


def is_secret(name: str, value: Any) -> bool:
    """A literal secret in a variable or header called ``name`` (not a reference to one,
    nor a placeholder for one)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if REFERENCE.match(text) or PLACEHOLDER.match(text) or is_placeholder(text):
        return False
    if "${" in text or "{{" in text:  # "Bearer ${TOKEN}": the secret itself lives elsewhere
        return False
    if SECRET_VALUE.match(text) or URL_PASSWORD.match(text):
        return True
    return bool(SECRET_NAME.search(name)) and len(text) >= 8


# Fields that hold a credential whatever the document is (a key file, an app's secret).
SECRET_FIELDS = frozenset(
    {
        "privatekey",
        "clientsecret",
        "secretaccesskey",
        "sessiontoken",
        "password",
        "secrettext",
        "accesstoken",
        "refreshtoken",
    }
)
REDACTED = "[redacted before storing: {n} characters]"
_REDACTED_SHAPE = re.compile(r"\[redacted before storing: \d+ characters\]")


def _hidden(value: Any) -> bool:
    return isinstance(value, str) and bool(_REDACTED_SHAPE.fullmatch(value))


def redact(file: EvidenceFile, *, named: bool = False) -> tuple[bytes | None, int]:
    """The file's documents with literal secrets replaced, as bytes to store, and how
    many were replaced; (None, 0) when there is none (store the upload as it is). Well-
    known credential shapes and credential fields anywhere, a Kubernetes Secret's values,
    and with ``named`` (MCP configurations) every ``env`` or ``headers`` value that
    ``is_secret`` by its name. Analysis reads the parsed documents, not what is stored."""
    count = 0

    def hide(value: str) -> str:
        nonlocal count
        count += 1
        return REDACTED.format(n=len(value))

    def walk(node: Any, key: str = "", parent: str = "") -> Any:
        if isinstance(node, dict):
            secret_object = node.get("kind") == "Secret"
            out = {}
            for k, v in node.items():
                name = str(k)
                if secret_object and name in ("data", "stringData") and isinstance(v, dict):
                    out[k] = {dk: hide(str(dv)) if dv else dv for dk, dv in v.items()}
                else:
                    out[k] = walk(v, name, key)
            return out
        if isinstance(node, list):
            # Secrets across items of an argument list (``-p``, then the password).
            node = redaction.scrub_args(node, hide)
            return [walk(v, key, parent) if not _hidden(v) else v for v in node]
        if isinstance(node, str) and node.strip():
            text = node.strip()
            reference = bool(REFERENCE.match(text) or "${" in text or "{{" in text)
            if not reference and (
                SECRET_VALUE.match(text)
                or URL_PASSWORD.match(text)
                or re.sub(r"[-_]", "", key).lower() in SECRET_FIELDS
                or (named and parent in ("env", "headers") and is_secret(key, node))
            ):
                return hide(node)
            # Secrets inside a longer value: a PEM block, a Slack webhook, a flag's value.
            return redaction.scrub_text(node, hide)
        return node

    documents = [walk(d) for d in file.documents]
    if not count:
        return None, 0
    if len(documents) == 1:
        data = orjson.dumps(documents[0], option=orjson.OPT_INDENT_2, default=str)
    else:
        data = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True).encode()
    return data, count
