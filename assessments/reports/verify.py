"""Does a PDF match a report this application issued, and which one?

The answer rests on the file's SHA-256: every issued report's is stored in its
``ReportRecord``, so a file that differs by one byte does not match. OSCAL exports (JSON)
are recorded the same way; their metadata states their document id and content
fingerprint as properties. When it does not,
the document id the file carries (in its metadata, or printed on its pages) says which
report it claims to be, and its attached ``report-content.json`` whether the content it
claims to carry is still the content that was issued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from assessments.models import ReportRecord
from assessments.reports.pdf import CONTENT_ATTACHMENT, DOCUMENT_ID_RE

MAX_BYTES = 20 * 1024 * 1024

MATCH = "match"
CHANGED = "changed"
UNKNOWN = "unknown"
UNREADABLE = "unreadable"
EXIT_CODES = {MATCH: 0, CHANGED: 1, UNKNOWN: 1, UNREADABLE: 2}


@dataclass(frozen=True)
class Verification:
    verdict: str
    message: str
    file_sha256: str = ""
    record: ReportRecord | None = None
    claimed_id: str = ""
    details: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @property
    def ok(self) -> bool:
        return self.verdict == MATCH


def _board_scope(params: dict[str, Any]) -> str:
    """A board pack's scope and period, from the filters recorded with it."""
    from assessments.reports.board import TIER_LABELS, BoardFilters

    try:
        since = dt.date.fromisoformat(params["since"])
        until = dt.date.fromisoformat(params["until"])
    except (KeyError, TypeError, ValueError):
        return "a board pack"
    tier = params.get("tier")
    filters = BoardFilters(
        since=since,
        until=until,
        team=str(params.get("team") or ""),
        tier=tier if tier in TIER_LABELS else None,
        classification=str(params.get("classification") or ""),
    )
    scope = ", ".join(filters.describe()) or "all active agents"
    return f"a board pack of {scope}, period {since:%-d %b %Y} to {until:%-d %b %Y}"


def describe(record: ReportRecord) -> str:
    """What the record is, in one line: which report, for what, generated when and by whom."""
    when = timezone.localtime(record.created_at).strftime("%d %b %Y %H:%M %Z")
    by = record.params.get("generated_by")
    if not by and record.created_by is not None:
        by = record.created_by.get_full_name() or record.created_by.get_username()
    if record.kind == ReportRecord.Kind.ASSESSMENT and record.assessment is not None:
        a = record.assessment
        status = record.params.get("status", a.status)
        what = f"the assessment report of {a.agent.name} ({a.agent.slug}), version {a.number}, {status}"
    elif record.kind == ReportRecord.Kind.OSCAL_RESULTS and record.assessment is not None:
        a = record.assessment
        status = record.params.get("status", a.status)
        what = (
            f"the OSCAL assessment results of {a.agent.name} ({a.agent.slug}), version "
            f"{a.number}, {status}"
        )
    elif record.kind == ReportRecord.Kind.OSCAL_BOARD:
        what = f"the OSCAL assessment results of {record.params.get('scope', 'a board pack scope')}"
    elif record.kind == ReportRecord.Kind.OSCAL_POAM:
        what = f"the OSCAL plan of action and milestones of {record.params.get('scope', 'the portfolio')}"
    else:
        what = f"{_board_scope(record.params)} ({record.pages} pages)"
    return f"{record.document_id}: {what}; generated {when} by {by or 'an unknown author'}"


class _Unreadable(Exception):
    """The file cannot be read as a PDF; the message says why, in a plain sentence."""


def _read_claims(data: bytes) -> tuple[str, bytes | None]:
    """(document id the file claims, its attached content or None). Raises ``_Unreadable``
    when the file is not a whole, readable, unencrypted PDF."""
    from pypdf import PdfReader

    # A PDF ends with %%EOF (trailing whitespace aside): a file cut short in transfer or
    # on disk does not, and pypdf would otherwise guess at what is left.
    if b"%%EOF" not in data[-1024:]:
        raise _Unreadable(
            "The file is incomplete (it stops before the end of a PDF, as a truncated "
            "download does), so it cannot be checked."
        )
    # pypdf reports every oddity of a damaged file through logging; the verdict says it.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as error:  # a damaged file can fail anywhere inside pypdf
        raise _Unreadable(_DAMAGED) from error
    if encrypted:
        raise _Unreadable(
            "The file is encrypted, so its content cannot be checked. Reports this "
            "application issues are never encrypted: verify the original file."
        )
    try:
        found = ""
        meta: Any = reader.metadata or {}
        for key in ("/Keywords", "/Subject", "/Title"):
            if match := DOCUMENT_ID_RE.search(str(meta.get(key) or "")):
                found = match[0]
                break
        if not reader.pages:
            raise _Unreadable(_DAMAGED)
        if not found and (match := DOCUMENT_ID_RE.search(reader.pages[0].extract_text() or "")):
            found = match[0]
        content = None
        attachments = reader.attachments
        if CONTENT_ATTACHMENT in attachments and attachments[CONTENT_ATTACHMENT]:
            content = attachments[CONTENT_ATTACHMENT][0]
        return found, content
    except _Unreadable:
        raise
    except Exception as error:
        raise _Unreadable(_DAMAGED) from error


_DAMAGED = "The file is damaged: it cannot be read as a PDF, so it cannot be checked."
_NO_CONTENT = (
    f"It carries no attached {CONTENT_ATTACHMENT}: the content it states cannot be "
    "compared with any fingerprint."
)


def _too_big() -> Verification:
    return Verification(
        UNREADABLE,
        f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; no report this application "
        "issues is that large.",
    )


def verify_bytes(data: bytes) -> Verification:
    if not data:
        return Verification(UNREADABLE, "The file is empty: there is nothing to verify.")
    if len(data) > MAX_BYTES:
        return _too_big()
    pdf = b"%PDF-" in data[:1024]
    if not pdf and data.lstrip()[:1] != b"{":
        return Verification(UNREADABLE, "The file is not a PDF.")
    digest = hashlib.sha256(data).hexdigest()
    record = (
        ReportRecord.objects.select_related("assessment__agent", "created_by")
        .filter(file_sha256=digest)
        .order_by("created_at")
        .first()
    )
    if record is not None:
        return Verification(
            MATCH,
            f"This file is a report issued by this application, unchanged: {describe(record)}.",
            file_sha256=digest,
            record=record,
            claimed_id=record.document_id,
        )
    if not pdf:
        return _verify_oscal(data, digest)
    try:
        claimed, content = _read_claims(data)
    except _Unreadable as unreadable:
        return Verification(UNREADABLE, str(unreadable), file_sha256=digest)
    details = [f"SHA-256 of the file: {digest}"]
    if content is None:
        details.append(_NO_CONTENT)
    if claimed:
        claimed_record = (
            ReportRecord.objects.select_related("assessment__agent", "created_by")
            .filter(document_id=claimed)
            .first()
        )
        if claimed_record is not None:
            if content is not None:
                same = hashlib.sha256(content).hexdigest() == claimed_record.content_sha256
                details.append(
                    "Its attached content still matches the issued report's fingerprint, so "
                    "the change is elsewhere in the file (the pages, or data added to it)."
                    if same
                    else "Its attached content does not match the issued report's fingerprint "
                    "either."
                )
            details.append(f"SHA-256 of the issued file: {claimed_record.file_sha256}")
            return Verification(
                CHANGED,
                f"This file claims to be {describe(claimed_record)}, but it is not the file "
                "that was issued (its SHA-256 differs). Treat it as altered and use the "
                "original.",
                file_sha256=digest,
                record=claimed_record,
                claimed_id=claimed,
                details=tuple(details),
            )
        return Verification(
            UNKNOWN,
            f"This file claims to be report {claimed}, but this application issued no "
            "report with that id.",
            file_sha256=digest,
            claimed_id=claimed,
            details=tuple(details),
        )
    return Verification(
        UNKNOWN,
        "This PDF does not match any report issued by this application.",
        file_sha256=digest,
        details=tuple(details),
    )


_OSCAL_ROOTS = ("assessment-results", "plan-of-action-and-milestones")


def _verify_oscal(data: bytes, digest: str) -> Verification:
    """An OSCAL JSON file this application may have issued: its SHA-256 matched no record
    (``verify_bytes`` looked), so say what it claims to be and whether the content
    fingerprint it states is still the issued one."""
    import json

    from assessments.oscal import NS

    try:
        document = json.loads(data)
        (root,) = document.keys()
        metadata = document[root]["metadata"]
        props = {
            p["name"]: str(p["value"])
            for p in metadata.get("props", [])
            if isinstance(p, dict) and p.get("ns") == NS and "name" in p and "value" in p
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return Verification(
            UNREADABLE,
            "The file is neither a PDF nor an OSCAL JSON file issued by this application.",
            file_sha256=digest,
        )
    if root not in _OSCAL_ROOTS:
        return Verification(
            UNREADABLE,
            "The file is neither a PDF nor an OSCAL JSON file issued by this application.",
            file_sha256=digest,
        )
    details = [f"SHA-256 of the file: {digest}"]
    claimed = match[0] if (match := DOCUMENT_ID_RE.search(props.get("document-id", ""))) else ""
    record = (
        ReportRecord.objects.select_related("assessment__agent", "created_by")
        .filter(document_id=claimed)
        .first()
        if claimed
        else None
    )
    if record is None:
        return Verification(
            UNKNOWN,
            f"This OSCAL file claims to be export {claimed}, but this application issued no "
            "export with that id."
            if claimed
            else "This OSCAL file does not match any export issued by this application.",
            file_sha256=digest,
            claimed_id=claimed,
            details=tuple(details),
        )
    details.append(
        "The content fingerprint it states is still the issued one, so the change is "
        "elsewhere in the file (its layout, or data added to it)."
        if props.get("content-sha256") == record.content_sha256
        else "The content fingerprint it states is not the issued one either."
    )
    details.append(f"SHA-256 of the issued file: {record.file_sha256}")
    return Verification(
        CHANGED,
        f"This file claims to be {describe(record)}, but it is not the file that was issued "
        "(its SHA-256 differs). Treat it as altered and use the original.",
        file_sha256=digest,
        record=record,
        claimed_id=claimed,
        details=tuple(details),
    )


def verify_file(file: Any) -> Verification:
    """Verify an open binary file or an uploaded file, reading at most the size limit."""
    size = getattr(file, "size", None)
    if size is not None and size > MAX_BYTES:
        return _too_big()
    return verify_bytes(file.read(MAX_BYTES + 1))
