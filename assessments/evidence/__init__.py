"""Evidence analysers: read an agent's real access configuration, propose answers.

Pure Python (no Django), like the engine. Files in, proposals out; each proposal
carries the rule that made it (a stable id, explained by :data:`RULE_SENTENCES`) and
the lines of the files that justify it. The contract is ../shared/evidence.md.

    files = [load_path(p) for p in paths]            # EvidenceError names the file
    analysis = analyse("aws", files, principal=arn)  # PrincipalNotFound names it
    analysis.to_dict()                               # the JSON of analyse_evidence

One module per kind: :mod:`.aws` (with the IAM action list in :mod:`.aws_actions`,
CloudFormation templates and Terraform plans read by :mod:`.aws_templates`),
:mod:`.kubernetes`, :mod:`.gcp` (dangerous roles as data in ``gcp_roles.yaml``),
:mod:`.mcp` and :mod:`.entra`; :mod:`.common` holds safe loading and the dataclasses,
:mod:`.yamlsafe` the YAML reader (libyaml where installed, the same refusals without).

A proposal that rests on a path (v2: through removing a limit, through another
identity) names its steps in its evidence, "Step 1: …", "Step 2: …", in order;
:func:`path_steps` reads them back for the pages and the PDF.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from . import aws, entra, gcp, kubernetes, mcp
from .common import (
    MAX_BYTES,
    Analysis,
    Evidence,
    EvidenceError,
    EvidenceFile,
    PrincipalNotFound,
    Proposal,
    load_path,
    parse_bytes,
    redact,
)
from .drift import differences
from .rules import RULE_SENTENCES, sentence

KINDS: tuple[str, ...] = ("aws", "kubernetes", "gcp", "mcp", "entra")
KIND_LABELS: dict[str, str] = {
    "aws": (
        "AWS IAM (account authorization details, policy documents, CloudFormation "
        "templates or Terraform plans)"
    ),
    "kubernetes": "Kubernetes RBAC (roles, bindings, service accounts)",
    "gcp": "Google Cloud IAM (project policy and custom roles)",
    "mcp": "MCP client configuration",
    "entra": "Microsoft Entra ID (Graph application permissions)",
}
# Kinds whose principal must be given.
PRINCIPAL_REQUIRED = frozenset({"aws", "kubernetes", "gcp"})


class UnknownKind(ValueError):
    def __init__(self, kind: str):
        super().__init__(f"Unknown evidence kind {kind!r}; allowed kinds: {', '.join(KINDS)}.")


def stored_bytes(kind: str, file: EvidenceFile, data: bytes) -> tuple[bytes, int]:
    """What to keep of an uploaded file: its bytes with literal secrets replaced (see
    :func:`.common.redact`), and how many were; the bytes as uploaded when there is none."""
    redacted, count = redact(file, named=kind == "mcp")
    return (data, 0) if redacted is None else (redacted, count)


def analyse(
    kind: str,
    files: Sequence[EvidenceFile],
    principal: str | None = None,
    *,
    internal_domains: Iterable[str] = (),
    namespace: str | None = None,
    now: dt.datetime | None = None,
) -> Analysis:
    """Propose answers for ``principal`` from parsed ``files`` of one ``kind``.

    ``namespace`` (Kubernetes) is where objects without one are read; ``now`` (AWS) is
    when conditions on time are judged (default: the present)."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    principal = (principal or "").strip() or None
    used: tuple[dt.date | None, str] = (None, "")
    if kind == "aws":
        proposals, used = aws.analyse_with_use(files, principal, now=now)
    elif kind == "kubernetes":
        proposals = kubernetes.analyse(files, principal, (namespace or "").strip() or None)
    elif kind == "gcp":
        proposals = gcp.analyse(files, principal)
    elif kind == "mcp":
        proposals = mcp.analyse(files, internal_domains)
        principal = None
    else:
        proposals = entra.analyse(files, principal)
    return Analysis(
        kind=kind,
        principal=principal,
        files=tuple(files),
        proposals=proposals,
        last_used=used[0],
        last_used_from=used[1],
    )


STEP = re.compile(r"^Step (\d+): (.*)$", re.DOTALL)


def path_steps(lines: Iterable[Any]) -> list[dict[str, Any]]:
    """The numbered steps of a path-based proposal's evidence ("Step 2: …"), in order, as
    {number, lines: [{says, file, where}]} (a step may rest on several lines, such as
    what the identity reached holds); empty for a proposal that rests on no path. Takes
    :class:`Evidence` or the stored dicts alike."""
    steps: list[dict[str, Any]] = []
    for line in lines:
        says = line.get("says") if isinstance(line, dict) else getattr(line, "says", "")
        found = STEP.match(str(says or ""))
        if not found:
            continue
        get = line.get if isinstance(line, dict) else lambda k, _l=line: getattr(_l, k, "")
        number = int(found.group(1))
        if not steps or steps[-1]["number"] != number:
            steps.append({"number": number, "lines": []})
        steps[-1]["lines"].append(
            {"says": found.group(2), "file": get("file"), "where": get("where")}
        )
    return steps


def subjects(kind: str, files: Sequence[EvidenceFile]) -> list[str]:
    """Things the files name that drift compares between uploads: MCP servers."""
    if kind == "mcp":
        return sorted({name for name, *_ in mcp.servers(files)})
    return []


__all__ = [
    "KINDS",
    "KIND_LABELS",
    "MAX_BYTES",
    "PRINCIPAL_REQUIRED",
    "RULE_SENTENCES",
    "Analysis",
    "Evidence",
    "EvidenceError",
    "EvidenceFile",
    "PrincipalNotFound",
    "Proposal",
    "UnknownKind",
    "analyse",
    "differences",
    "load_path",
    "parse_bytes",
    "path_steps",
    "sentence",
    "subjects",
]
