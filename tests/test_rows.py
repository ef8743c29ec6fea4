"""The helpers that prepare list rows in Python (assessments/presentation/rows.py, widgets.py) give
exactly what the template language and Django's widgets would."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.template import Context, Template
from django.test import SimpleTestCase
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape as django_escape
from django.utils.translation import override

from assessments.presentation import rows
from assessments.widgets import QuickSelect, quick_select


class RowUrlTests(SimpleTestCase):
    def test_filled_in_links_are_those_reverse_gives(self):
        agent = rows.RowUrl("assessments:agent_detail", "slug")
        assessment = rows.RowUrl("assessments:assessment_detail", "slug", "int")
        for slug in ("a", "payments-bot", "bot_2", "X-9"):
            self.assertEqual(agent(slug), reverse("assessments:agent_detail", args=[slug]))
            for number in (1, 12, 987_654):
                self.assertEqual(
                    assessment(slug, number),
                    reverse("assessments:assessment_detail", args=[slug, number]),
                )

    def test_values_the_converter_would_change_are_reversed_as_usual(self):
        assessment = rows.RowUrl("assessments:assessment_detail", "slug", "int")
        self.assertEqual(
            assessment("bot", "7"), reverse("assessments:assessment_detail", args=["bot", "7"])
        )
        with self.assertRaises(NoReverseMatch):  # as reverse() itself
            rows.RowUrl("assessments:agent_detail", "slug")("not a slug")


class TextTests(SimpleTestCase):
    def test_dates_read_as_the_date_filter_writes_them(self):
        template = Template('{{ d|date:"j M Y" }}|{{ d|date:"j M" }}')
        for day in (dt.date(2026, 1, 5), dt.date(2026, 9, 21), dt.date(2027, 12, 31)):
            with self.subTest(day=day):
                expected = template.render(Context({"d": day}))
                self.assertEqual(f"{rows.day(day)}|{rows.day_month(day)}", expected)

    def test_month_names_follow_the_active_language(self):
        with override("de"):
            self.assertEqual(rows.day(dt.date(2026, 3, 2)), "2 Mär 2026")
        self.assertEqual(rows.day(dt.date(2026, 3, 2)), "2 Mar 2026")

    def test_row_text_is_escaped_as_django_escapes(self):
        for text in ('<b>"O\'Neil" & co</b>', "plain", 42):
            self.assertEqual(rows.escape(text), django_escape(text))


class QuickSelectTests(SimpleTestCase):
    class Form(forms.Form):
        kind = forms.ChoiceField(
            required=False,
            choices=[
                ("", "Any"),
                ("a", 'A "quoted" <kind>'),
                ("Group", [("g1", "One"), ("g2", "Two & more")]),
            ],
        )

    def test_it_renders_the_markup_of_djangos_select(self):
        for data in ({}, {"kind": "a"}, {"kind": "g2"}, {"kind": "nonsense"}):
            with self.subTest(data=data):
                plain, quick = self.Form(data), self.Form(data)
                plain.is_valid(), quick.is_valid()
                quick_select(quick.fields["kind"], **{"class": "form-select"})
                plain.fields["kind"].widget.attrs["class"] = "form-select"
                expected = "\n".join(line for line in str(plain["kind"]).splitlines() if line)
                self.assertHTMLEqual(str(quick["kind"]), expected)
                self.assertEqual(str(quick["kind"]).replace("\n", ""), expected.replace("\n", ""))
                self.assertIsInstance(quick.fields["kind"].widget, QuickSelect)
