"""A quick look at an uploaded file before its analysis is queued, so that a file that is
not an export of the kind is refused at once (naming it) and nothing is stored.

It must stay well under a second for a 20 MiB file, since a web worker waits on it: a
JSON file is parsed whole (orjson reads 20 MiB in a fraction of a second, and a
truncated one fails there); a YAML file up to :data:`WHOLE_YAML_BYTES` too; a larger
YAML file by its first and last documents only (where a file of another kind shows,
and where a truncated one is cut). The analysis in the background parses the whole
file with the same rules and reports anything else on the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import aws_templates, kubernetes, mcp
from .aws_model import ACCOUNT_KEYS, _policy_document
from .common import (
    JSON_SUFFIXES,
    MAX_BYTES,
    YAML_SUFFIXES,
    EvidenceError,
    EvidenceFile,
    parse_bytes,
)

WHOLE_YAML_BYTES = 1024 * 1024
_EMPTY = ("the file is empty", "the file holds no document")


def check(kind: str, name: str, data: bytes) -> None:
    """EvidenceError naming ``name`` when ``data`` is too large, not text, cannot be
    parsed or is not of ``kind``'s shape."""
    if len(data) > MAX_BYTES:
        raise EvidenceError(
            name,
            f"the file is {len(data) / 1024 / 1024:.1f} MiB; evidence files are limited to "
            f"{MAX_BYTES // 1024 // 1024} MiB",
        )
    shape(kind, _parsed(name, data))


def _parsed(name: str, data: bytes) -> EvidenceFile:
    if len(data) <= WHOLE_YAML_BYTES:
        return parse_bytes(name, data)
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    suffix = Path(name).suffix.lower()
    if suffix in JSON_SUFFIXES or (suffix not in YAML_SUFFIXES and head[:1] in (b"{", b"[")):
        return parse_bytes(name, data)
    text = data.decode("utf-8-sig", "replace")
    first_end = text.find("\n---", 1)
    last_start = text.rfind("\n---")
    if first_end == -1:  # one large document: parsed whole, as the analysis will
        return parse_bytes(name, data)
    documents: list[Any] = []
    for part, which in ((text[:first_end], "first"), (text[last_start + 1 :], "last")):
        try:
            documents.extend(parse_bytes(name, part.encode()).documents)
        except EvidenceError as error:
            if error.message in _EMPTY:
                continue
            raise EvidenceError(name, f"its {which} document: {error.message}") from None
    if not documents:
        raise EvidenceError(name, "the file holds no document")
    return EvidenceFile(name=name, sha256="", documents=tuple(documents))


def shape(kind: str, file: EvidenceFile) -> None:
    """The analysers' own refusals of a document of another kind, without analysing."""
    if kind == "aws":
        for document in file.documents:
            _aws(file.name, document)
    elif kind == "kubernetes":
        objects = kubernetes._objects([file])
        if not objects and file.documents:
            raise EvidenceError(file.name, "holds no Kubernetes object")
    elif kind == "mcp":
        mcp.servers([file])
    elif kind == "gcp":
        for document in file.documents:
            for item in document if isinstance(document, list) else [document]:
                if not isinstance(item, dict) or not (
                    "bindings" in item
                    or ("includedPermissions" in item and "name" in item)
                    or "keys" in item
                    or ("keyType" in item and "name" in item)
                ):
                    raise EvidenceError(
                        file.name,
                        "neither an IAM policy (bindings), a custom role (name, "
                        "includedPermissions) nor a list of keys",
                    )
    elif kind == "entra":
        for document in file.documents:
            if isinstance(document, list) and all(isinstance(v, str) for v in document):
                continue
            for item in document if isinstance(document, list) else [document]:
                if not isinstance(item, dict) or not isinstance(item.get("permissions"), list):
                    raise EvidenceError(
                        file.name,
                        "expected a list of Microsoft Graph permission values, or objects "
                        "with the app's appId or displayName and its permissions",
                    )


def _aws(name: str, doc: Any) -> None:
    if isinstance(doc, dict) and (
        any(k in doc for k in ACCOUNT_KEYS)
        or isinstance(doc.get("AccessKeyMetadata"), list)
        or (isinstance(doc.get("Content"), str) and "ReportFormat" in doc)
    ):
        return
    if aws_templates.is_cloudformation(doc) or aws_templates.is_terraform_plan(doc):
        return
    for item in doc if isinstance(doc, list) else [doc]:
        if _policy_document(item) is None:
            raise EvidenceError(
                name,
                "not an AWS account authorization-details file (UserDetailList, "
                "GroupDetailList, RoleDetailList, Policies), IAM policy document "
                "(Version, Statement), CloudFormation template (Resources), Terraform plan "
                "(terraform show -json) or access key list (AccessKeyMetadata)",
            )
