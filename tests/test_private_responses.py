"""Issue 23, item 7: no-store on what signed-in people are shown; the API's docs and
schema behind sign-in unless API_DOCS_PUBLIC; names without invisible characters."""

from __future__ import annotations

from django.test import TestCase, override_settings
from django.urls import reverse

from tests import factories as f
from tests.api_helpers import ApiClient, token_for


class NoStoreTests(TestCase):
    def test_authenticated_pages_and_api_answers_are_not_stored(self):
        viewer = f.viewer()
        self.client.force_login(viewer)
        for url in ("/", reverse("assessments:agent_list"), reverse("assessments:api_tokens")):
            with self.subTest(url=url):
                response = self.client.get(url)
                self.assertIn("no-store", response["Cache-Control"])
        api = ApiClient(self.client, token_for(viewer))
        self.client.logout()
        self.assertIn("no-store", api.get("/agents")["Cache-Control"])

    def test_a_new_token_shown_once_is_not_stored(self):
        viewer = f.viewer()
        self.client.force_login(viewer)
        response = self.client.post(
            reverse("assessments:api_tokens"),
            {"name": "ci", "scopes": ["read"], "expires_in_days": "30"},
        )
        self.assertIn("no-store", response["Cache-Control"])


class ApiDocsTests(TestCase):
    def test_the_docs_and_schema_need_a_sign_in_or_a_token(self):
        docs = self.client.get("/api/v1/docs")
        self.assertEqual(docs.status_code, 302)
        self.assertIn("/accounts/login/", docs["Location"])
        schema = self.client.get("/api/v1/openapi.json")
        self.assertEqual(schema.status_code, 401)
        self.assertNotIn("paths", schema.content.decode())
        viewer = f.viewer()
        with_token = self.client.get(
            "/api/v1/openapi.json", headers={"Authorization": f"Bearer {token_for(viewer)}"}
        )
        self.assertEqual(with_token.status_code, 200)
        self.assertEqual(
            self.client.get(
                "/api/v1/openapi.json", headers={"Authorization": "Bearer aia_forged"}
            ).status_code,
            401,
        )
        self.client.force_login(viewer)
        self.assertEqual(self.client.get("/api/v1/docs").status_code, 200)

    @override_settings(API_DOCS_PUBLIC=True)
    def test_api_docs_public_opens_them(self):
        self.assertEqual(self.client.get("/api/v1/openapi.json").status_code, 200)
        self.assertEqual(self.client.get("/api/v1/docs").status_code, 200)


class InvisibleCharacterTests(TestCase):
    def test_a_name_with_a_direction_control_or_a_zero_width_character_is_refused(self):
        from assessments.models import Agent

        admin = f.administrator()
        f.team("Platform")
        api = ApiClient(self.client, token_for(admin, ("read", "write")))
        for name in ("\u202eadmin\u200b", "ad\u200dmin", "Bot\u2066x"):
            with self.subTest(name=repr(name)):
                response = api.post(
                    "/agents",
                    {"name": name, "purpose": "p", "owner": "root", "team": "platform"},
                )
                self.assertEqual(response.status_code, 422, response.content)
                self.assertIn("invisible character", response.content.decode())
        self.assertFalse(Agent.objects.exists())
        ok = api.post(
            "/agents", {"name": "Zoë's bot", "purpose": "p", "owner": "root", "team": "platform"}
        )
        self.assertEqual(ok.status_code, 201, ok.content)
