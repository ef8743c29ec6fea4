"""API tokens and service accounts in the UI: shown once, stored hashed, audited."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from assessments import actions
from assessments.models import ApiToken, AuditEvent, ServiceAccount
from tests import factories as f
from tests.api_helpers import ApiClient, assert_served_from_this_site

URL = "/account/api-tokens/"


class TokenPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.admin = f.administrator()

    def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(self):
        self.client.force_login(self.assessor)
        response = self.client.post(
            URL,
            {"name": "CI", "owner": "me", "scopes": ["read", "write"], "expires_in_days": "30"},
            follow=True,
        )
        secret = response.context["new_token"]["secret"]
        self.assertContains(response, secret)
        token = ApiToken.objects.get()
        self.assertEqual(token.token_hash, ApiToken.hash_token(secret))
        self.assertNotIn(secret, str(ApiToken.objects.values().get()))
        self.assertTrue(secret.startswith(token.prefix))
        self.assertContains(response, token.prefix)
        again = self.client.get(URL)
        self.assertNotContains(again, secret)
        event = AuditEvent.objects.filter(verb="api_token.create").latest("id")
        self.assertEqual(event.changes["scopes"], ["read", "write"])
        self.assertNotIn(secret, str(event.changes))
        self.assertEqual(ApiClient(self.client, secret).get("/agents").status_code, 200)

    def test_a_scope_beyond_the_role_is_refused(self):
        viewer = f.viewer()
        self.client.force_login(viewer)
        response = self.client.post(
            URL, {"name": "x", "owner": "me", "scopes": ["write"], "expires_in_days": "30"}
        )
        self.assertEqual(response.status_code, 422)
        self.assertContains(response, "beyond what this account", status_code=422)
        self.assertFalse(ApiToken.objects.exists())

    def test_revoking_ends_the_token_and_is_audited(self):
        token, secret = actions.create_api_token(
            self.assessor, owner=self.assessor, name="ci", scopes=["read"], expires_in_days=7
        )
        other = f.assessor("someone-else")
        self.client.force_login(other)
        self.assertEqual(self.client.post(f"{URL}{token.pk}/revoke/").status_code, 404)
        self.client.force_login(self.assessor)
        self.client.post(f"{URL}{token.pk}/revoke/")
        token.refresh_from_db()
        self.assertIsNotNone(token.revoked_at)
        self.assertTrue(AuditEvent.objects.filter(verb="api_token.revoke").exists())
        self.assertEqual(ApiClient(self.client, secret).get("/agents").status_code, 401)

    def test_administrators_create_service_accounts_that_hold_a_role(self):
        self.client.force_login(self.admin)
        response = self.client.post(
            reverse("assessments:service_account_create"),
            {"username": "ci-payments", "role": "assessor", "description": "Payments CI"},
        )
        self.assertEqual(response.status_code, 302)
        account = ServiceAccount.objects.get()
        self.assertFalse(account.user.has_usable_password())
        self.assertTrue(account.user.has_perm("assessments.add_agent"))
        self.assertFalse(account.user.has_perm("assessments.review_assessment"))
        response = self.client.post(
            URL,
            {
                "name": "deploy",
                "owner": str(account.user_id),
                "scopes": ["read", "write"],
                "expires_in_days": "90",
            },
            follow=True,
        )
        secret = response.context["new_token"]["secret"]
        self.assertEqual(ApiToken.objects.get().user, account.user)
        me = ApiClient(self.client, secret)
        self.client.logout()
        created = me.post(
            "/agents",
            {"name": "Bot", "purpose": "p", "owner": self.admin.username, "team": f.team().slug},
        )
        self.assertEqual(created.status_code, 201, created.content)
        self.assertEqual(
            AuditEvent.objects.filter(verb="agent.create").latest("id").actor, account.user
        )
        # A service account cannot sign in to the pages.
        self.assertFalse(self.client.login(username="ci-payments", password=""))

    def test_people_cannot_create_tokens_for_service_accounts_or_others(self):
        self.client.force_login(self.admin)
        self.client.post(
            reverse("assessments:service_account_create"),
            {"username": "bot", "role": "viewer"},
        )
        bot = ServiceAccount.objects.get().user
        with self.assertRaises(actions.ActionError):
            actions.create_api_token(
                self.assessor, owner=bot, name="x", scopes=["read"], expires_in_days=1
            )
        with self.assertRaises(actions.ActionError):
            actions.create_api_token(
                self.admin, owner=self.assessor, name="x", scopes=["read"], expires_in_days=1
            )
        self.assertFalse(ApiToken.objects.exists())


class TokenFormTests(TestCase):
    """Scopes beyond the role are not offered; the token shown once has a copy button;
    "Revoke" asks first, on a page of its own (the app's dialog with JavaScript)."""

    def test_only_the_scopes_of_the_persons_role_are_offered(self):
        for person, offered in (
            (f.viewer(), ["read"]),
            (f.assessor(), ["read", "write"]),
            (f.reviewer(), ["read", "write", "review"]),
        ):
            self.client.force_login(person)
            response = self.client.get(URL)
            shown = [v for v, _ in response.context["form"].fields["scopes"].choices]
            self.assertEqual(shown, offered, person.username)
            for scope in {"read", "write", "review"} - set(offered):
                self.assertNotContains(response, f'name="scopes" value="{scope}"')

    def test_the_token_shown_once_has_a_copy_button_that_needs_no_inline_script(self):
        self.client.force_login(f.assessor())
        response = self.client.post(
            URL,
            {"name": "CI", "owner": "me", "scopes": ["read"], "expires_in_days": "30"},
            follow=True,
        )
        self.assertContains(response, 'data-copy-target="new-token"')
        self.assertNotContains(response, "onclick")
        self.assertContains(response, "js/app.js")
        assert_served_from_this_site(self, response.content.decode())

    def test_revoke_asks_first_on_a_page_and_only_a_post_revokes(self):
        owner = f.assessor()
        token, _ = actions.create_api_token(
            owner, owner=owner, name="ci", scopes=["read"], expires_in_days=7
        )
        self.client.force_login(owner)
        page = self.client.get(URL)
        revoke = reverse("assessments:api_token_revoke", args=[token.pk])
        self.assertContains(page, f'href="{revoke}"')
        self.assertNotContains(page, "hx-confirm")
        self.assertContains(page, 'id="confirm-dialog"')

        confirm = self.client.get(revoke)
        self.assertContains(confirm, "Revoke the token “ci”?")
        self.assertContains(confirm, f'action="{revoke}"')
        self.assertContains(confirm, "<!doctype html>")  # a page of its own
        token.refresh_from_db()
        self.assertIsNone(token.revoked_at)  # asking changes nothing

        fragment = self.client.get(revoke, headers={"HX-Request": "true"})
        self.assertContains(fragment, 'id="confirm-body"')
        self.assertNotContains(fragment, "<html")

        self.client.post(revoke)
        token.refresh_from_db()
        self.assertIsNotNone(token.revoked_at)
        again = self.client.get(revoke, follow=True)
        self.assertContains(again, "nothing to revoke")

    def test_the_revoke_question_is_asked_only_of_who_may_revoke(self):
        owner = f.assessor()
        token, _ = actions.create_api_token(
            owner, owner=owner, name="ci", scopes=["read"], expires_in_days=7
        )
        revoke = reverse("assessments:api_token_revoke", args=[token.pk])
        self.assertEqual(self.client.get(revoke).status_code, 302)  # sign in first
        self.assertIn("login", self.client.get(revoke)["Location"])
        for other in (f.viewer(), f.assessor("someone"), f.reviewer(), f.administrator()):
            self.client.force_login(other)
            self.assertEqual(self.client.get(revoke).status_code, 404, other.username)
        self.client.force_login(f.outsider())
        self.assertEqual(self.client.get(revoke).status_code, 403)
