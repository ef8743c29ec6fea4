"""Rendering Django templates to archival PDFs with WeasyPrint.

Every report is PDF/A-3b: fonts embedded (subset), text selectable, an sRGB output
intent, and the report's canonical content attached as ``report-content.json``. The SHA-256 of that attachment is the content fingerprint
printed in the report and stored in its ``ReportRecord``, so anyone can check it with
``pdfdetach`` and ``sha256sum``.

Nothing is fetched from the network: the URL fetcher serves files under the static
directory (the stylesheet and its fonts) and ``data:`` URLs, and refuses anything else.
The stylesheet is a static file because templates may not carry ``<style>`` blocks (the
CSP template scan forbids them everywhere).

Fonts are the project's own, never the host's: every face is a file under
``static/fonts`` declared with ``@font-face`` (Inter for Latin text, Noto Sans for
Arabic, Hebrew, Devanagari and the other scripts, DejaVu Sans for Greek, Cyrillic and
symbols, DejaVu Sans Mono, Droid Sans Fallback and Noto Sans SC Bold for Chinese and
Japanese, Baekmuk Dotum and Noto Sans KR Bold for Korean, Noto Emoji for emoji, Symbola
for other symbols), and WeasyPrint is handed a fontconfig configuration that lists no
font directory and none of the host's rules, so a character none of them has is a
visible ``.notdef`` (and a logged warning), not a silent pick from whatever the server
has installed.
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

PDF_VARIANT = "pdf/a-3b"
STYLESHEET = "css/report.css"
CONTENT_ATTACHMENT = "report-content.json"
GENERATOR = "Agent Identity Assessor"

# Crockford's base32 alphabet: no I, L, O or U, so an id read aloud or retyped survives.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# OA and OP: OSCAL assessment results and POA&M files (assessments/oscal).
_ID_PREFIX = {"assessment": "AR", "board": "BP", "oscal-results": "OA", "oscal-poam": "OP"}
DOCUMENT_ID_RE = re.compile(r"\bAIA-(?:AR|BP|OA|OP)-\d{8}-[0-9A-HJKMNP-TV-Z]{8}\b")


def new_document_id(kind: str, now: dt.datetime) -> str:
    """``AIA-AR-20261128-7K3QF9XD``: kind, UTC date, 40 random bits."""
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))
    return f"AIA-{_ID_PREFIX[kind]}-{now.astimezone(dt.UTC):%Y%m%d}-{suffix}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not part of a report's content")


def canonical_json(content: dict[str, Any]) -> bytes:
    """One byte sequence per content: sorted keys, no whitespace, UTF-8, UTC times."""
    return json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _local_fetcher(root: Path) -> Any:
    """A WeasyPrint URL fetcher that serves files under ``root`` and ``data:`` URLs, and
    refuses every other URL (no network, no files outside the static directory)."""
    from weasyprint.urls import URLFetcher

    class LocalFetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("file:"):
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if not path.is_relative_to(root):
                    raise ValueError(f"Reports embed only static files, not {url}")
            return super().fetch(url, headers)

    return LocalFetcher(timeout=5, allowed_protocols=("file", "data"), allow_redirects=False)


# No font directory and one rule: Pango asks for the generic family "emoji" (after the
# stylesheet's families) for an emoji sequence (a ZWJ sequence, a flag, a keycap, a
# character with the emoji variation selector), and it gets the report's emoji face
# first, so the whole sequence is one glyph of one face: the "1" of "1️⃣" is in Inter too.
_PROJECT_FONTCONFIG = b"""<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <match target="pattern">
    <test name="family"><string>emoji</string></test>
    <edit name="family" mode="prepend_first" binding="strong"><string>Report Emoji</string></edit>
  </match>
</fontconfig>
"""


_current_config_lock = threading.Lock()
_host_rules_cleared = False


def _project_fonts_only() -> Any:
    """A WeasyPrint ``FontConfiguration`` that starts with no fonts: no system or user
    font directory, no host aliases. ``@font-face`` rules then add the only fonts there
    are. (WeasyPrint's own starts from the host's fontconfig set-up.)

    Pango's FreeType font map applies the rules of fontconfig's *current* configuration
    (the host's /etc/fonts) to every font request, whatever configuration the font map
    was given; so the process's current configuration is made an empty one too, once.
    Otherwise the host's aliases pick among the faces of one family: Debian's list of
    preferred sans-serif faces names Baekmuk Dotum, so bold Korean came out in the
    regular face on Debian and in the bold one elsewhere."""
    import cffi
    from weasyprint.text import ffi as weasy
    from weasyprint.text.fonts import FontConfiguration

    own = cffi.FFI()
    own.cdef(
        """
        typedef struct _FcConfig FcConfig;
        FcConfig * FcConfigCreate (void);
        int FcConfigParseAndLoadFromMemory (FcConfig *config, const unsigned char *b, int c);
        int FcConfigBuildFonts (FcConfig *config);
        int FcConfigSetCurrent (FcConfig *config);
        void FcConfigDestroy (FcConfig *config);
        """
    )
    # The same library WeasyPrint loaded, under the names it tries.
    lib = weasy._dlopen(
        own,
        "libfontconfig-1",
        "fontconfig-1",
        "fontconfig",
        "libfontconfig.so.1",
        "libfontconfig.1.dylib",
        "libfontconfig-1.dll",
    )

    def empty_config() -> Any:
        config = lib.FcConfigCreate()
        if config == own.NULL or not lib.FcConfigParseAndLoadFromMemory(
            config, _PROJECT_FONTCONFIG, 1
        ):
            raise RuntimeError("fontconfig could not create an empty configuration")
        lib.FcConfigBuildFonts(config)
        return config

    global _host_rules_cleared
    with _current_config_lock:
        if not _host_rules_cleared:
            rules_free = empty_config()
            lib.FcConfigSetCurrent(rules_free)  # takes its own reference
            lib.FcConfigDestroy(rules_free)
            _host_rules_cleared = True

    class ProjectFonts(FontConfiguration):
        def __init__(self) -> None:
            config = empty_config()
            self._config = weasy.ffi.cast("FcConfig *", int(own.cast("uintptr_t", config)))
            self.font_map = weasy.ffi.gc(
                weasy.pangoft2.pango_ft2_font_map_new(), weasy.gobject.g_object_unref
            )
            weasy.pangoft2.pango_fc_font_map_set_config(
                weasy.ffi.cast("PangoFcFontMap *", self.font_map), self._config
            )
            # The font map holds its own reference to the configuration.
            weasy.fontconfig.FcConfigDestroy(self._config)
            self._folder = None
            self.strut_layouts: dict[Any, Any] = {}
            self.font_features: dict[Any, Any] = {}

    return ProjectFonts()


@dataclass(frozen=True)
class _Resources:
    stamp: float
    stylesheet: Any
    font_config: Any
    fetcher: Any
    base_url: str


_local = threading.local()
# WeasyPrint is imported on first use (it takes half a second, and every manage.py
# command imports the URLconf). Its page-by-page progress lines feed the board pack's
# progress bar, not the server log; fontTools logs every font it subsets at INFO.
_PROGRESS_LOGGER = logging.getLogger("weasyprint.progress")
_PROGRESS_LOGGER.propagate = False
logging.getLogger("fontTools").setLevel(logging.WARNING)


@atexit.register
def _release_fonts() -> None:
    # WeasyPrint's FontConfiguration cleans up in __del__, which fails if it runs during
    # interpreter shutdown; release this thread's copy while the modules still exist.
    _local.__dict__.pop("resources", None)


def _resources() -> _Resources:
    """The parsed stylesheet and its fonts, loaded once per thread (about 0.2 s), and
    again only when the stylesheet file changes."""
    found = finders.find(STYLESHEET)
    if not found:
        raise LookupError(f"The report stylesheet static/{STYLESHEET} is missing.")
    path = Path(found)
    stamp = path.stat().st_mtime
    cached: _Resources | None = getattr(_local, "resources", None)
    if cached is not None and cached.stamp == stamp:
        return cached
    from weasyprint import CSS

    root = path.parent.parent.resolve()
    fetcher = _local_fetcher(root)
    font_config = _project_fonts_only()
    stylesheet = CSS(filename=str(path), font_config=font_config, url_fetcher=fetcher)
    _local.resources = _Resources(stamp, stylesheet, font_config, fetcher, root.as_uri() + "/")
    return _local.resources


def warm_up() -> None:
    """Import WeasyPrint and load the stylesheet and fonts (about 1.5 s, once per thread),
    so that the first report a worker renders does not pay for it."""
    import weasyprint  # noqa: F401

    _resources()


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


@dataclass(frozen=True)
class PdfMeta:
    document_id: str
    title: str
    subject: str
    author: str
    created: dt.datetime
    content: bytes  # the canonical content, attached as report-content.json
    # Further associated files (name, data, description), e.g. a board pack's register.
    attachments: tuple[tuple[str, bytes, str], ...] = ()


Progress = Callable[[str, int], None]


_LAYOUT_PAGE = re.compile(r"Step 5 - Creating layout - Page (\d+)$")


class _ProgressHandler(logging.Handler):
    """Turns WeasyPrint's progress log lines for this thread into (step, page) calls."""

    def __init__(self, callback: Progress) -> None:
        super().__init__(logging.INFO)
        self.callback = callback
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        message = record.getMessage()
        if match := _LAYOUT_PAGE.match(message):
            self.callback("layout", int(match[1]))
        elif message.startswith("Step 6"):
            self.callback("pdf", 0)


def render_pdf(
    template: str, context: dict[str, Any], meta: PdfMeta, *, progress: Progress | None = None
) -> RenderedPdf:
    """Render ``template`` with ``context`` to a PDF/A-3b document."""
    return render_html(render_to_string(template, context), meta, progress=progress)


def render_html(html: str, meta: PdfMeta, *, progress: Progress | None = None) -> RenderedPdf:
    """Render an HTML document (already made from a report template) to PDF/A-3b."""
    from weasyprint import HTML, Attachment

    from assessments.reports import glyphs

    # PDF/A forbids a missing glyph: refuse before rendering, naming the character and
    # its field, and check the file itself after (glyphs.py).
    glyphs.check_texts({**json.loads(meta.content), "title": meta.title, "author": meta.author})
    res = _resources()
    handler = _ProgressHandler(progress) if progress else None
    if handler:
        _PROGRESS_LOGGER.addHandler(handler)
    try:
        document = HTML(string=html, base_url=res.base_url, url_fetcher=res.fetcher).render(
            stylesheets=[res.stylesheet], font_config=res.font_config, pdf_variant=PDF_VARIANT
        )
        del html
        created = meta.created.astimezone(dt.UTC).replace(microsecond=0).isoformat()
        document.metadata.title = meta.title
        document.metadata.description = meta.subject
        document.metadata.keywords = [meta.document_id]
        document.metadata.authors = [meta.author]
        document.metadata.generator = GENERATOR
        document.metadata.created = created
        document.metadata.modified = created
        attachment = Attachment(
            string=meta.content,
            name=CONTENT_ATTACHMENT,
            description=f"Canonical content of {meta.document_id} (SHA-256 is its fingerprint)",
            created=meta.created,
            modified=meta.created,
            relationship="Data",
            url_fetcher=res.fetcher,
        )
        extra = [
            Attachment(
                string=payload,
                name=name,
                description=description,
                created=meta.created,
                modified=meta.created,
                relationship="Supplement",
                url_fetcher=res.fetcher,
            )
            for name, payload, description in meta.attachments
        ]
        data = document.write_pdf(
            pdf_variant=PDF_VARIANT,
            pdf_identifier=meta.document_id.encode(),
            attachments=[attachment, *extra],
        )
        if pages := glyphs.notdef_pages(data):
            raise glyphs.MissingGlyphError("", f"the text on page {', '.join(map(str, pages))}")
        return RenderedPdf(data=data, pages=len(document.pages))
    finally:
        if handler:
            _PROGRESS_LOGGER.removeHandler(handler)
