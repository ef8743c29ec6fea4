"""Discovery: every workload identity in account-wide exports, and which behave like agents.

Pure Python (no Django), like the evidence analysers it builds on: files in, identities
out. Each identity has a stable external id, last use, an owner hint and the five
signals with the lines that show them; ``agent_like`` follows from the signals. The
contract is ../shared/discovery.md.

    files = [load(name, data) for name, data in uploads]   # DiscoveryError names the file
    reading = read("aws", files, source=None)              # Reading(identities=[...])

One module per kind: :mod:`.aws`, :mod:`.kubernetes`, :mod:`.gcp`, :mod:`.entra`;
:mod:`.common` holds the identity record and ``agent_like``; the provider variable
names, framework images and tag words are data in ``signals.yaml``. Storing runs,
reconciling them with the inventory and triage are Django's side
(``assessments.actions.discovery``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import orjson

from assessments.evidence.common import MAX_BYTES, EvidenceError, EvidenceFile, parse_bytes

from . import aws, entra, gcp, kubernetes
from .common import (
    LIKELY,
    NO,
    POSSIBLE,
    SIGNALS,
    DiscoveryError,
    Identity,
    Reading,
    agent_like,
)

KINDS: tuple[str, ...] = ("aws", "kubernetes", "gcp", "entra")
KIND_LABELS: dict[str, str] = {
    "aws": "AWS account (authorization details, credential report)",
    "kubernetes": "Kubernetes cluster (service accounts, RBAC, workloads)",
    "gcp": "Google Cloud project (service accounts, IAM policy, custom roles)",
    "entra": "Microsoft Entra ID tenant (service principals)",
}
SOURCE_REQUIRED = frozenset({"kubernetes"})
SIGNAL_LABELS: dict[str, str] = {
    "model_access": "Calls a model",
    "tool_reach": "Reaches tools",
    "delegates": "Acts through other identities",
    "alters_own_access": "Can widen its own access",
    "declared_agent": "Declared an agent",
}
AGENT_LIKE_LABELS: dict[str, str] = {
    LIKELY: "Likely an agent",
    POSSIBLE: "Possibly an agent",
    NO: "Not agent-like",
}
_READERS = {"aws": aws.read, "kubernetes": kubernetes.read, "gcp": gcp.read, "entra": entra.read}


class UnknownKind(ValueError):
    def __init__(self, kind: str):
        super().__init__(f"Unknown discovery kind {kind!r}; allowed kinds: {', '.join(KINDS)}.")


def load(name: str, data: bytes) -> EvidenceFile:
    """Parse one file's bytes safely (the evidence analysers' loader; the AWS credential
    report as CSV). ``DiscoveryError`` names the file."""
    if len(data) > MAX_BYTES:
        raise DiscoveryError(
            name,
            f"the file is {len(data) / 1024 / 1024:.1f} MiB; export files are limited to "
            f"{MAX_BYTES // 1024 // 1024} MiB",
        )
    if name.lower().endswith(".csv") or aws.is_report(name, data):
        return aws.parse_report(name, hashlib.sha256(data).hexdigest(), data)
    try:
        return parse_bytes(name, data)
    except EvidenceError as error:
        raise DiscoveryError(error.file, error.message) from None


def load_path(path: str | Path) -> tuple[EvidenceFile, bytes]:
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise DiscoveryError(
                str(path),
                f"larger than {MAX_BYTES // 1024 // 1024} MiB, the limit for export files",
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise DiscoveryError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    return load(str(path), raw), raw


def read(kind: str, files: Sequence[EvidenceFile], source: str | None = None) -> Reading:
    """Every identity of ``files`` of one ``kind``; DiscoveryError names a bad file."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    if not files:
        raise DiscoveryError("(no file)", "give at least one export file")
    source = (source or "").strip() or None
    reading = _READERS[kind](files, source)
    if not reading.source:
        raise DiscoveryError(
            files[0].name,
            "the files do not say which account, project or tenant they are from; give --source",
        )
    return reading


def check(kind: str, files: Sequence[EvidenceFile], source: str | None = None) -> None:
    """A quick look that the files are exports of ``kind`` (their shape, not their grants),
    for refusing a wrong file at once where the reading itself runs in the background."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    if not files:
        raise DiscoveryError("(no file)", "give at least one export file")
    if kind == "aws":
        aws.classify(files)
    elif kind == "gcp":
        gcp.classify(files)
    elif kind == "entra":
        for file in files:
            entra.principals(file)
    else:
        if not (source or "").strip():
            raise DiscoveryError(files[0].name, "a Kubernetes discovery needs the cluster's name")
        for file in files:
            found = kubernetes.objects([file])
            if not any(o.get("kind") in kubernetes.KNOWN_KINDS for o, _f, _w in found):
                raise DiscoveryError(file.name, "holds no service account, RBAC object or workload")


def evidence_input(
    kind: str,
    files: Sequence[tuple[str, bytes]],
    identity: Identity | dict,
    evidence_files: Sequence[str],
) -> tuple[list[tuple[str, bytes]], str]:
    """The files and principal the evidence analyser reads for one discovered identity:
    the account, policy or cluster files (never the credential report or the service
    account list), or for Entra the service principal's own permission list."""
    external_id = (
        identity.external_id if isinstance(identity, Identity) else identity["external_id"]
    )
    if kind == "entra":
        document = (
            entra.evidence_document(identity)
            if isinstance(identity, Identity)
            else {
                "appId": external_id,
                "displayName": identity.get("name", ""),
                "permissions": list((identity.get("details") or {}).get("permissions") or []),
            }
        )
        name = f"permissions of {document['displayName'] or external_id}.json"
        return [(name, orjson.dumps(document, option=orjson.OPT_INDENT_2))], external_id
    wanted = set(evidence_files)
    chosen = [(n, d) for n, d in files if n in wanted]
    principal = f"serviceAccount:{external_id}" if kind == "gcp" else external_id
    return chosen, principal


__all__ = [
    "AGENT_LIKE_LABELS",
    "KINDS",
    "KIND_LABELS",
    "LIKELY",
    "NO",
    "POSSIBLE",
    "SIGNALS",
    "SIGNAL_LABELS",
    "SOURCE_REQUIRED",
    "DiscoveryError",
    "Identity",
    "Reading",
    "UnknownKind",
    "agent_like",
    "check",
    "evidence_input",
    "load",
    "load_path",
    "read",
]
