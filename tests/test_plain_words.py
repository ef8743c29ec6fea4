"""Words, not machine text (issue 21, item 5): question keys only as a small detail,
people by their names, dates in the pages' format."""

from __future__ import annotations

import re

from django.test import TestCase

from assessments import actions
from tests import factories as f


class PlainWordsTests(TestCase):
    def setUp(self):
        self.assessor = f.assessor()
        self.agent = f.agent(slug="bot", actor=self.assessor)
        self.client.force_login(self.assessor)

    def test_question_keys_are_a_detail_for_manifests_and_the_api_not_part_of_each_label(self):
        a = actions.start_assessment(self.assessor, self.agent)
        html = self.client.get(a.get_absolute_url()).content.decode()
        labels = re.findall(r'<dt class="small fw-normal text-body-secondary">(.*?)</dt>', html)
        self.assertTrue(labels)
        for label in labels:
            self.assertNotIn("<code", label)
        self.assertIn("Keys for manifests and the API", html)
        self.assertIn('<code class="answer-key">decision_mode</code>', html)

    def test_history_names_people_by_their_names(self):
        name = self.assessor.get_full_name()
        self.assertTrue(name)
        html = self.client.get(self.agent.get_absolute_url()).content.decode()
        self.assertIn(f"{name} registered the agent", html)
        self.assertNotIn(f"{self.assessor.get_username()} registered the agent", html)

    def test_the_audit_log_names_the_person_beside_their_username(self):
        self.client.force_login(f.reviewer())
        html = self.client.get("/audit/").content.decode()
        self.assertIn(
            f"{self.assessor.get_full_name()} "
            f'<span class="small text-body-secondary">({self.assessor.get_username()})</span>',
            html,
        )
