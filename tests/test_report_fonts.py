"""The reports' type: the project's own fonts in every script, text that wraps, and a
text layer that copies as written (no watermark letters, headings as words)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from html import unescape
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase, TestCase

from assessments import actions
from assessments.reports.board import BoardFilters, render_board_pack
from tests import factories as f
from tests import report_helpers as h

# One name, purpose and system per script the reports promise, and an emoji.
NAME = "Facturas 发票 エージェント 에이전트 وكيل חשבון एजेंट Πράκτορας Агент 🤖"
PURPOSE = (
    "Reconciles invoices for finance teams: 核对发票 · 請求書を照合 · 송장 대조 · "
    "مطابقة الفواتير · התאמת חשבוניות · चालान मिलान · συμφωνία τιμολογίων · "
    "сверка счетов ✅ → ≤ 30 days."
)
SYSTEMS = [
    ("总账 ledger", "write"),
    ("خزينة treasury", "write"),
    ("ספקים vendors", "read"),
    ("भुगतान payments", "write"),
    ("Λογιστική accounts", "read"),
    ("Бухгалтерия books", "read"),
    ("📦 parcel tracker", "read"),
]
# Long enough to need wrapping, short enough for the fields it goes in (platform: 120).
ARN = "arn:aws:iam::123456789012:role/service-role/" + "InvoiceReconciliationAgent" * 2
LONG_URL = "https://example.com/" + "very-long-path-segment-without-spaces-" * 6 + "end"

FONT_NAMES = ("Inter", "Report-")  # the families static/css/report.css declares


def word_boxes(data: bytes) -> list[tuple[str, float]]:
    """Each word of the PDF with the x where it ends (points), as poppler lays it out."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as pdf:
        pdf.write(data)
        pdf.flush()
        html = subprocess.run(  # noqa: S603 (fixed arguments)
            ["/usr/bin/pdftotext", "-enc", "UTF-8", "-bbox", pdf.name, "-"],
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8", "replace")
    return [
        (unescape(word), float(x_max))
        for x_max, word in re.findall(
            r'<word xMin="[^"]+" yMin="[^"]+" xMax="([^"]+)"[^>]*>([^<]*)<', html
        )
    ]


class NotdefWatch(logging.Handler):
    """Collects WeasyPrint's warnings for glyphs no font has."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.missing: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if ".notdef" in record.getMessage():
            self.missing.append(record.getMessage())


def embedded_fonts(data: bytes) -> set[str]:
    names = set()
    for page in h.reader(data).pages:
        for ref in page.get("/Resources", {}).get("/Font", {}).values():
            names.add(str(ref.get_object()["/BaseFont"]).split("+", 1)[-1])
    return names


_BFCHAR = re.compile(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")


def glyph_texts(data: bytes) -> dict[str, set[str]]:
    """For each embedded font (by name), the text of every glyph it draws, as the PDF's
    ToUnicode map gives it: a sequence shaped into one glyph (a ligature) is one entry
    holding all its characters; a sequence drawn glyph by glyph is one entry each."""
    texts: dict[str, set[str]] = {}
    for page in h.reader(data).pages:
        for ref in page.get("/Resources", {}).get("/Font", {}).values():
            font = ref.get_object()
            name = str(font["/BaseFont"]).split("+", 1)[-1]
            cmap = font["/ToUnicode"].get_data().decode("latin-1")
            for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
                texts.setdefault(name, set()).update(
                    bytes.fromhex(text).decode("utf-16-be") for _g, text in _BFCHAR.findall(block)
                )
    return texts


class ScriptsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.assessor, cls.reviewer = people["assessor"], people["reviewer"]
        agent = f.agent(
            slug="multiscript",
            name=NAME,
            purpose=PURPOSE + " " + ARN + " " + LONG_URL,
            systems=[*SYSTEMS, (ARN, "write")],
            platform="AWS Lambda (" + ARN + ")",
        )
        cls.assessment = f.approved(agent, cls.assessor, cls.reviewer)

    def render_watching(self, render):
        watch = NotdefWatch()
        logger = logging.getLogger("weasyprint")
        logger.addHandler(watch)
        try:
            data = render()
        finally:
            logger.removeHandler(watch)
        return data, watch.missing

    def test_every_script_and_an_emoji_render_with_no_missing_glyph(self):
        data, missing = self.render_watching(
            lambda: actions.issue_assessment_report(self.assessor, self.assessment).pdf
        )
        self.assertEqual(missing, [])
        text = h.pdf_text(data)
        for word in ("发票", "エージェント", "에이전트", "وكيل", "חשבון", "एजेंट", "Πράκτορας"):
            self.assertIn(word, text)
        self.assertIn("Агент", text)
        self.assertIn("🤖", text)
        self.assertTrue(all(name.startswith(FONT_NAMES) for name in embedded_fonts(data)))

    def test_the_board_pack_renders_every_script_too(self):
        import datetime as dt

        from django.utils import timezone

        # Never assessed, so it is among the agents the pack prints (top risks, appendix).
        f.agent(slug="multiscript-new", name=NAME, systems=SYSTEMS)
        now = timezone.now()
        data, missing = self.render_watching(
            lambda: (
                render_board_pack(
                    BoardFilters.from_params({}),
                    document_id="AIA-BP-20261130-0000TEST",
                    generated_at=now - dt.timedelta(seconds=1),
                    generated_by="Ada",
                ).rendered.data
            )
        )
        self.assertEqual(missing, [])
        # Narrow columns may wrap a Korean or Chinese word between syllables, as they should.
        text = re.sub(r"\s+", "", h.pdf_text(data))
        for word in ("发票", "에이전트", "وكيل", "חשבון", "एजेंट", "Πράκτορας", "Агент", "🤖"):
            self.assertIn(word, text)
        register = h.attachment(data, "agent-register.csv").decode("utf-8-sig")
        self.assertIn("भुगतान payments", register)

    def test_bold_chinese_japanese_and_korean_are_set_in_bold_faces(self):
        # The cover's title (bold) is the agent's name; the purpose (regular) has 核对.
        data = actions.issue_assessment_report(self.assessor, self.assessment).pdf
        texts = glyph_texts(data)
        self.assertTrue({"发", "票", "エ", "ジ"} <= texts["Report-CJK-Bold"])
        self.assertTrue({"에", "이", "전", "트"} <= texts["Report-Hangul-Bold"])
        self.assertTrue({"核", "对"} <= texts["Report-CJK"])
        self.assertTrue({"송", "장"} <= texts["Report-Hangul"])
        self.assertNotIn("核", texts["Report-CJK-Bold"])

    def test_long_ids_urls_and_arns_wrap_inside_the_page(self):
        data = actions.issue_assessment_report(self.assessor, self.assessment).pdf
        words = word_boxes(data)
        self.assertTrue(any("InvoiceReconciliation" in w for w, _x in words))
        # A4 is 595.3 points wide and the right margin is 17 mm (48.2 points): every word
        # ends inside the text area, none runs off the page to be clipped.
        overflowing = [(w, x) for w, x in words if x > 595.3 - 48.2 + 1]
        self.assertEqual(overflowing, [])

    def test_a_draft_watermark_is_a_picture_not_letters_in_the_text(self):
        draft = f.answered(f.agent(slug="drafty", name="Drafty"), self.assessor)
        data = actions.issue_assessment_report(self.assessor, draft).pdf
        text = h.pdf_text(data)
        self.assertIn("Draft: not a record of decision.", text)
        # The letters of DRAFT never stand alone ("Appendix A" is a heading) in the copied text.
        self.assertNotRegex(text, r"(?:^|\s)[DRFT](?=\s|$)")
        self.assertNotIn("DRAFT", text)
        first = h.reader(data).pages[0]
        self.assertTrue(first["/Resources"].get("/XObject") or first["/Resources"].get("/Pattern"))

    def test_spaced_headings_extract_as_words(self):
        data = actions.issue_assessment_report(self.assessor, self.assessment).pdf
        text = h.pdf_text(data)
        self.assertIn("AGENT IDENTITY ASSESSOR · ASSESSMENT REPORT", text.upper())
        self.assertNotRegex(text, r"\b[A-Z] [A-Z] [A-Z]\b")


_SAMPLE = f"""<!doctype html><html><body><h1>{NAME}</h1><p>{PURPOSE}</p>
<p class="mono">{ARN} → ≤ 发票</p><table class="grid"><tr><td>{LONG_URL}</td></tr></table>
</body></html>"""

_RENDER = """
import datetime as dt, json, logging, sys
import django
django.setup()
from assessments.reports import pdf
missing = []
class Watch(logging.Handler):
    def emit(self, record):
        missing.append(record.getMessage())
logging.getLogger("weasyprint").addHandler(Watch(logging.WARNING))
meta = pdf.PdfMeta("AIA-AR-20261130-00000000", "t", "s", "a",
                   dt.datetime(2026, 11, 30, tzinfo=dt.UTC), b"{}")
data = pdf.render_html(sys.stdin.read(), meta).data
sys.stdout.write(json.dumps({"pdf": data.hex(), "warnings": missing}))
"""


class NoHostFontTests(SimpleTestCase):
    def render_in_a_fresh_process(self, **env: str) -> tuple[bytes, list[str]]:
        run = subprocess.run(  # noqa: S603 (fixed command, our own interpreter)
            [sys.executable, "-c", _RENDER],
            input=_SAMPLE,
            capture_output=True,
            text=True,
            check=True,
            cwd=settings.BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings", **env},
            timeout=120,
        )
        out = json.loads(run.stdout)
        return bytes.fromhex(out["pdf"]), out["warnings"]

    def test_the_same_fonts_and_text_with_no_host_fonts_at_all(self):
        with tempfile.TemporaryDirectory() as empty:
            conf = Path(empty) / "fonts.conf"
            conf.write_text(
                '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">'
                f"<fontconfig><dir>{empty}</dir><cachedir>{empty}/cache</cachedir></fontconfig>"
            )
            bare, bare_warnings = self.render_in_a_fresh_process(FONTCONFIG_FILE=str(conf))
        hosted, hosted_warnings = self.render_in_a_fresh_process()
        self.assertEqual(bare_warnings, [])
        self.assertEqual(hosted_warnings, [])
        self.assertEqual(embedded_fonts(bare), embedded_fonts(hosted))
        self.assertTrue(all(name.startswith(FONT_NAMES) for name in embedded_fonts(hosted)))
        self.assertEqual(h.pages_text(bare), h.pages_text(hosted))
        self.assertIn("에이전트", h.pdf_text(hosted))
        # The heading is bold: the host's font aliases (Debian's list of preferred
        # sans-serif faces names Baekmuk Dotum) do not pick the regular face for it.
        self.assertIn("Report-Hangul-Bold", embedded_fonts(hosted))


# The 40 most spoken languages (first and second language, Ethnologue order), as CLDR
# locales; with Sinhala for a further Brahmic script.
LOCALES = [
    "en", "zh_Hans", "hi", "es", "ar", "fr", "bn", "pt", "ru", "ur",
    "id", "de", "ja", "pcm", "mr", "te", "tr", "ta", "yue_Hant", "vi",
    "fil", "ko", "fa", "ha", "sw", "jv", "it", "pa_Arab", "gu", "th",
    "kn", "am", "pa", "ml", "yo", "my", "or", "uk", "pl", "si",
]  # fmt: skip


def cldr_name(locale: str) -> str:
    """An agent name in the language's own script, from CLDR data (babel): the
    language's own name, a month and a weekday, as that language writes them."""
    from babel import Locale

    loc = Locale.parse(locale)
    own = loc.languages.get(loc.language) or loc.language
    return f"{own} {loc.months['format']['wide'][3]} {loc.days['format']['wide'][0]}"


EMOJI = "Coder 👩🏽‍💻 🇯🇵 🤖"
# A ZWJ sequence with a character the text faces have too (DejaVu Sans has ♀).
EMOJI_TEXT_PART = "Helper 🙋‍♀️"
MIXED = "مطابقة الفواتير (ERP v2)"
THAI = "ตัวแทนกระทบยอดใบแจ้งหนี้"


class AnyScriptTests(TestCase):
    """One agent name per script of the 40 most spoken languages, an emoji name and a
    mixed-direction name: a board pack prints every one with no glyph id 0."""

    @classmethod
    def setUpTestData(cls):
        people = h.people()
        cls.reviewer = people["reviewer"]
        for index, locale in enumerate(LOCALES):
            f.agent(slug=f"lang-{index:02d}", name=cldr_name(locale))
        f.agent(slug="emoji", name=EMOJI)
        f.agent(slug="emoji-text-part", name=EMOJI_TEXT_PART)
        f.agent(slug="mixed", name=MIXED)

    def test_every_script_renders_with_no_missing_glyph(self):
        from assessments.reports import glyphs

        issued = actions.issue_board_pack(self.reviewer, {"top": 60, "prepared_by": THAI})
        self.assertEqual(glyphs.notdef_pages(issued.pdf), [])
        content = json.loads(h.attachment(issued.pdf))
        printed = {r["agent"] for r in content["attention"]}
        self.assertTrue({cldr_name(loc) for loc in LOCALES} <= printed)
        self.assertIn(EMOJI, printed)
        text = h.pdf_text(issued.pdf)
        for word in ("ไทย", "বাংলা", "తెలుగు", "தமிழ்", "ગુજરાતી", "ಕನ್ನಡ", "አማርኛ", "ਪੰਜਾਬੀ"):
            self.assertIn(word, text)

    def test_an_emoji_sequence_and_a_flag_are_each_one_glyph(self):
        data = actions.issue_board_pack(self.reviewer, {"top": 60}).pdf
        texts = glyph_texts(data)
        emoji = texts["Report-Emoji"]
        # One glyph each for the whole ZWJ sequence (woman, skin tone, ZWJ, laptop) and
        # the flag (two regional indicators), not a glyph per character.
        self.assertIn("👩🏽\u200d💻", emoji)
        self.assertIn("🇯🇵", emoji)
        self.assertIn("🤖", emoji)
        self.assertTrue(any(text.startswith("🙋\u200d♀") for text in emoji))
        drawn_alone = set().union(*texts.values()) & {"👩", "🏽", "💻", "🇯", "🇵", "🙋", "♀"}
        self.assertEqual(drawn_alone, set())
        self.assertIn("Coder 👩🏽\u200d💻 🇯🇵 🤖", h.pdf_text(data))

    def test_a_character_no_font_has_is_refused_naming_it_and_its_field(self):
        from assessments.models import ReportRecord
        from assessments.reports.glyphs import MissingGlyphError

        f.agent(slug="hieroglyph", name="Scribe 𓀀")
        with self.assertRaises(MissingGlyphError) as caught:
            actions.issue_board_pack(self.reviewer, {"top": 60})
        message = str(caught.exception)
        self.assertIn("U+13000", message)
        self.assertIn("an agent's name", message)
        self.assertIn("Scribe 𓀀", message)
        self.assertFalse(ReportRecord.objects.exists())
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "pack.pdf"
            from django.core.management import CommandError, call_command

            with self.assertRaisesMessage(CommandError, "U+13000"):
                call_command("report", "board", "--output", str(target), "--user", "rex")
            self.assertFalse(target.exists())
        self.assertFalse(ReportRecord.objects.exists())

    def test_a_queued_pack_that_cannot_be_issued_says_why(self):
        from assessments.models import BoardPackJob, ReportRecord

        f.agent(slug="hieroglyph", name="Scribe 𓀀")
        job = BoardPackJob.objects.create(requested_by=self.reviewer, params={"top": 60})
        actions.run_board_pack_job(job.pk)
        job.refresh_from_db()
        self.assertEqual(job.state, BoardPackJob.State.FAILED)
        self.assertIn("U+13000", job.message)
        self.assertFalse(ReportRecord.objects.exists())

    def test_names_are_bidirectional_isolates(self):
        from django.template.loader import render_to_string

        from assessments.reports.board import BoardFilters, board_content

        content = board_content(BoardFilters.from_params({"top": 60}))
        html = render_to_string(
            "reports/pdf/board.html",
            {"c": content, "doc": {"id": "x", "content_sha256": "0" * 64}, "chart": {}},
        )
        self.assertIn(f"\u2068{MIXED}\u2069", html)
