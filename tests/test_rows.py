"""The long lists' rows (assessments/presentation/rows.py prepares their data, the
templates write them) and the select written without templates (assessments/widgets.py),
which gives exactly what Django's widget would."""

from __future__ import annotations

import datetime as dt

import time_machine
from django import forms
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from assessments.widgets import QuickSelect, quick_select
from tests import factories as f
from tests import review_helpers as h


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


class RowTextTests(TestCase):
    """The rows' text is escaped and their dates and links written by Django's own
    tools (autoescaping, the ``date`` filter, ``{% url %}``), on every long list."""

    def setUp(self):
        self.enterContext(time_machine.travel(h.NOW, tick=False))
        self.who = h.people()
        owner = f.user("odd", "viewer", first_name='<b>"O\'Neil"</b>', last_name="& co")
        self.agent = h.assessed("odd-bot", self.who, name="<i>Odd</i> & bot", owner=owner)
        h.set_due(self.agent, h.TODAY - dt.timedelta(days=2))
        h.trigger(self.agent, "new_link", 'Linked to <b>"evil"</b>')
        self.client.force_login(self.who["reviewer"])

    def test_names_and_details_are_escaped_in_the_queue_and_the_agent_list(self):
        for url in (reverse("assessments:queue"), reverse("assessments:agent_list")):
            with self.subTest(url=url):
                page = self.client.get(url)
                self.assertContains(page, "&lt;i&gt;Odd&lt;/i&gt; &amp; bot")
                self.assertContains(page, "&lt;b&gt;&quot;O&#x27;Neil&quot;&lt;/b&gt; &amp; co")
                self.assertNotContains(page, "<i>Odd</i>")
        queue = self.client.get(reverse("assessments:queue"))
        self.assertContains(queue, "Linked to &lt;b&gt;&quot;evil&quot;&lt;/b&gt;")
        self.assertContains(
            queue, f'href="{reverse("assessments:agent_detail", args=["odd-bot"])}"'
        )

    def test_due_dates_read_as_the_date_filter_writes_them(self):
        # Due two days before 2 Nov 2026 (h.TODAY).
        queue = self.client.get(reverse("assessments:queue"))
        self.assertContains(queue, '<time datetime="2026-10-31">31 Oct 2026</time>')
        self.assertContains(
            queue, 'overdue since <time datetime="2026-10-31">31 Oct</time>: 2 days late'
        )
        agents = self.client.get(reverse("assessments:agent_list"))
        self.assertContains(agents, ">31 Oct 2026</time>")
