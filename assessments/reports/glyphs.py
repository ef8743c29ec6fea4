"""Every character a report prints must have a glyph in the report's own fonts.

PDF/A forbids ``.notdef`` (glyph id 0, the empty box a font draws for a character it does
not have). A report is therefore checked twice, and never issued when either fails:

- before rendering, each text of its content (and its title and author) against the
  characters the fonts of ``static/css/report.css`` cover, so the refusal names the
  character and the field it is in;
- after rendering, the PDF itself: any glyph id 0 drawn by a composite font.

Characters that are never drawn (joiners, variation selectors, direction marks and
isolates, emoji tag characters, line breaks) need no glyph.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

_FONT_URL = re.compile(r'url\("\.\./fonts/([^"]+)"\)')
_lock = threading.Lock()


def _invisible(char: str) -> bool:
    code = ord(char)
    return (
        char in "\n\r\t\f\v"
        or code in (0x00AD, 0x034F, 0x061C, 0x180E, 0xFEFF)
        or 0x200B <= code <= 0x200F  # zero-width space and joiners, LRM, RLM
        or 0x202A <= code <= 0x202E  # embeddings and overrides
        or 0x2060 <= code <= 0x206F  # word joiner, invisible operators, isolates
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji and text presentation)
        or 0xE0000 <= code <= 0xE0FFF  # tags (subdivision flags), variation selectors
        or unicodedata.category(char) == "Cc"
    )


class MissingGlyphError(ValueError):
    """A character no font of the report has; the message names it and its field."""

    def __init__(self, char: str, field: str, value: str = "") -> None:
        self.char = char
        self.field = field
        if char:
            name = unicodedata.name(char, "an unnamed character")
            shown = f"the character “{char}” (U+{ord(char):04X}, {name.lower()})"
        else:
            shown = "a character"
        where = f" in {field}" if field else ""
        excerpt = f": “{value[:60]}”" if value else ""
        super().__init__(
            f"The report was not issued: no font of the report has {shown}"
            f"{where}{excerpt}. A PDF/A file may not show a missing glyph; change the text "
            "or add a font for it (tools/vendor_fonts.py). Nothing was recorded."
        )


@cache
def covered() -> frozenset[int]:
    """The code points the report fonts (every ``@font-face`` of the stylesheet) cover."""
    from django.contrib.staticfiles import finders
    from fontTools.ttLib import TTFont

    from assessments.reports.pdf import STYLESHEET

    stylesheet = Path(finders.find(STYLESHEET) or "")
    fonts = stylesheet.parent.parent / "fonts"
    codes: set[int] = set()
    with _lock:
        for name in sorted(set(_FONT_URL.findall(stylesheet.read_text(encoding="utf-8")))):
            font = TTFont(fonts / name, lazy=True)
            codes.update(font.getBestCmap() or {})
            font.close()
    return frozenset(codes)


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


FIELD_WORDS = {
    "agent": "an agent's name",
    "name": "a name",
    "owner": "an owner's name",
    "team": "a team's name",
    "title": "a title",
    "reason": "a reason",
    "purpose": "a purpose",
    "prepared_by": "“prepared by”",
    "reviewed_by": "“reviewed by”",
    "chair": "the chair's name",
    "attendees": "the attendees",
    "commentary": "management's commentary",
    "decision": "the resolution",
    "author": "the author",
}


def describe_field(path: str) -> str:
    """``register[3].agent`` as a person reads it: “an agent's name (register[3].agent)”."""
    last = re.sub(r"\[\d+\]$", "", path.rsplit(".", 1)[-1])
    words = FIELD_WORDS.get(last)
    return f"{words} ({path})" if words else path


def check_texts(texts: dict[str, Any]) -> None:
    """Raise ``MissingGlyphError`` for the first character of ``texts`` (a field name
    or path -> any JSON-like value) that no report font covers."""
    have = covered()
    everything = list(_strings(texts, ""))
    missing = {c for c in "".join(t for _p, t in everything) if ord(c) not in have}
    if not any(not _invisible(c) for c in missing):
        return
    for root, value in texts.items():
        for path, text in _strings(value, root):
            for char in text:
                if ord(char) not in have and not _invisible(char):
                    raise MissingGlyphError(char, describe_field(path), text)


def notdef_pages(data: bytes) -> list[int]:
    """The pages (1-based) whose composite fonts draw glyph id 0. WeasyPrint lists the
    width of every glyph a subset font draws (``/W``), so a font that draws ``.notdef``
    lists glyph 0: reading the fonts, not the content streams, keeps this fast."""
    import io
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data))
    bad_fonts: dict[Any, bool] = {}
    pages = []
    for number, page in enumerate(reader.pages, start=1):
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            key = getattr(ref, "idnum", id(ref))
            if key not in bad_fonts:
                font = ref.get_object()
                draws_notdef = False
                if font.get("/Subtype") == "/Type0":
                    for descendant in font["/DescendantFonts"]:
                        widths = descendant.get_object().get("/W") or []
                        # [first [w1 w2 ...] first2 last2 w ...]: glyph 0 starts a run.
                        draws_notdef = bool(widths) and int(widths[0]) == 0
                bad_fonts[key] = draws_notdef
            if bad_fonts[key]:
                pages.append(number)
                break
    return pages
