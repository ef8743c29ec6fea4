"""SCIM 2.0 provisioning at /scim/v2/: the RFC checker, accounts, roles, teams, access."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import TestCase, override_settings
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from assessments import actions
from assessments.access.roles import role_of
from assessments.models import AuditEvent, ScimResource, Team
from tests import factories as f

User = get_user_model()
BASE = "http://testserver/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def provisioning_token(admin, role="administrator", scopes=("scim",)):
    account = actions.create_service_account(admin, username=f"idp-{role}", role=role)
    _, secret = actions.create_api_token(
        admin, owner=account.user, name="IdP", scopes=list(scopes), expires_in_days=30
    )
    return secret


def in_test_transaction(app):
    """Django's WSGI application as the test client runs it: the database connection of
    the test (and its transaction) stays open across requests."""

    def wsgi(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            result = app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                result.close()  # sends request_finished, while it closes nothing
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return wsgi


class ScimTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = f.administrator()
        cls.secret = provisioning_token(cls.admin)

    def scim(self, method, path, body=None, secret=None, **headers):
        secret = self.secret if secret is None else secret
        kwargs = {"content_type": "application/scim+json"} if body is not None else {}
        if body is not None:
            kwargs["data"] = body
        if secret:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
        return getattr(self.client, method.lower())(f"/scim/v2{path}", **kwargs, **headers)

    def create_person(self, user_name="bjensen", **extra):
        body = {
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": f"{user_name}@example.com", "primary": True}],
            "active": True,
            **extra,
        }
        response = self.scim("POST", "/Users", body)
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()

    def create_group(self, name, members):
        response = self.scim(
            "POST",
            "/Groups",
            {"schemas": [GROUP_SCHEMA], "displayName": name, "members": members},
        )
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()


class ComplianceTests(ScimTestCase):
    def test_the_scim_rfc_checker_passes(self):
        client = WSGISCIMClient(
            in_test_transaction(WSGIHandler()),
            base_url=BASE,
            headers={"Authorization": f"Bearer {self.secret}"},
        )
        results = check_server(client, raise_exceptions=False)
        failed = [
            f"{r.title}: {r.reason}"
            for r in results
            if r.status not in (Status.SUCCESS, Status.SKIPPED)
        ]
        self.assertEqual(failed, [])
        self.assertGreater(len([r for r in results if r.status == Status.SUCCESS]), 20)


@override_settings(OIDC_ROLE_MAP={"AIA Reviewers": "reviewer", "AIA Viewers": "viewer"})
class ProvisioningTests(ScimTestCase):
    def test_a_provisioned_person_gets_an_account_with_no_password_and_is_audited(self):
        person = self.create_person()
        user = User.objects.get(username="bjensen")
        self.assertEqual((user.first_name, user.last_name), ("Barbara", "Jensen"))
        self.assertEqual(user.email, "bjensen@example.com")
        self.assertFalse(user.has_usable_password())
        self.assertIsNone(role_of(user))  # no group yet: no role, never a default
        self.assertEqual(ScimResource.objects.get(scim_id=person["id"]).user, user)
        event = AuditEvent.objects.get(verb="scim.person_provisioned")
        self.assertEqual(event.actor.username, "idp-administrator")
        self.assertTrue(AuditEvent.objects.filter(verb="account.created", object_id=user.pk))

    def test_the_password_the_provider_sends_is_never_stored(self):
        person = self.create_person(password="Hunter2-secret")
        self.assertNotIn("Hunter2", str(ScimResource.objects.get(scim_id=person["id"]).document))
        self.assertFalse(User.objects.get(username="bjensen").has_usable_password())

    def test_groups_give_the_role_and_teams_as_single_sign_on_does(self):
        Team.objects.create(name="Payments", slug="payments")
        person = self.create_person()
        member = [{"value": person["id"]}]
        reviewers = self.create_group("AIA Reviewers", member)
        self.create_group("team:payments", member)
        user = User.objects.get(username="bjensen")
        self.assertEqual(role_of(User.objects.get(pk=user.pk)), "reviewer")
        self.assertEqual(list(user.teams.values_list("slug", flat=True)), ["payments"])
        # Leaving the group takes the role away at once.
        response = self.scim(
            "PATCH",
            f"/Groups/{reviewers['id']}",
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "remove", "path": f'members[value eq "{person["id"]}"]'}],
            },
        )
        self.assertEqual(response.status_code, 204, response.content)  # RFC 7644 §3.5.2
        self.assertIsNone(role_of(User.objects.get(pk=user.pk)))
        self.assertTrue(AuditEvent.objects.filter(verb="account.roles_removed").exists())

    def test_deleting_a_group_takes_its_role_away(self):
        person = self.create_person()
        group = self.create_group("AIA Viewers", [{"value": person["id"]}])
        self.assertEqual(role_of(User.objects.get(username="bjensen")), "viewer")
        self.assertEqual(self.scim("DELETE", f"/Groups/{group['id']}").status_code, 204)
        self.assertIsNone(role_of(User.objects.get(username="bjensen")))

    def test_deactivating_disables_the_account_and_ends_its_sessions(self):
        person = self.create_person()
        user = User.objects.get(username="bjensen")
        self.client.force_login(user)
        response = self.scim(
            "PATCH",
            f"/Users/{person['id']}",
            {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            },
        )
        self.assertEqual(response.status_code, 204, response.content)
        self.assertFalse(User.objects.get(pk=user.pk).is_active)
        self.assertTrue(
            AuditEvent.objects.filter(verb="account.disabled", object_id=user.pk).exists()
        )
        self.assertTrue(AuditEvent.objects.filter(verb="scim.person_changed").exists())

    def test_deleting_a_person_disables_the_account_and_keeps_it_for_the_records(self):
        person = self.create_person()
        group = self.create_group("AIA Viewers", [{"value": person["id"]}])
        self.assertEqual(self.scim("DELETE", f"/Users/{person['id']}").status_code, 204)
        user = User.objects.get(username="bjensen")
        self.assertFalse(user.is_active)
        self.assertEqual(self.scim("GET", f"/Users/{person['id']}").status_code, 404)
        # The person left the group too.
        self.assertEqual(self.scim("GET", f"/Groups/{group['id']}").json().get("members"), None)

    def test_a_person_signed_in_by_sso_before_is_taken_over_not_duplicated(self):
        earlier = User.objects.create_user(username="BJensen", password=None)
        self.create_person("bjensen")
        self.assertEqual(User.objects.filter(username__iexact="bjensen").count(), 1)
        self.assertEqual(ScimResource.objects.get().user, earlier)

    def test_a_superuser_or_service_account_is_never_taken_over(self):
        User.objects.create_superuser(username="superroot", password="x" * 20)
        self.create_person("superroot")
        linked = ScimResource.objects.get().user
        self.assertNotEqual(linked.username, "superroot")
        self.assertFalse(linked.is_superuser)
        self.create_person("idp-administrator")
        self.assertEqual(
            ScimResource.objects.filter(user__service_account__isnull=False).count(), 0
        )

    def test_a_username_taken_by_another_resource_is_a_uniqueness_error(self):
        self.create_person("bjensen")
        response = self.scim("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "BJENSEN"})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["scimType"], "uniqueness")
        self.assertEqual(ScimResource.objects.count(), 1)

    def test_filter_by_user_name_as_identity_providers_ask(self):
        self.create_person("bjensen")
        self.create_person("jsmith")
        response = self.scim("GET", '/Users?filter=userName eq "jsmith"')
        body = response.json()
        self.assertEqual(body["totalResults"], 1)
        self.assertEqual(body["Resources"][0]["userName"], "jsmith")

    def test_bad_input_is_a_scim_error_and_changes_nothing(self):
        for body in ("not json", '{"schemas": ["nope"]}', '{"userName": 5}', "[]"):
            with self.subTest(body=body):
                response = self.client.post(
                    "/scim/v2/Users",
                    body,
                    content_type="application/scim+json",
                    HTTP_AUTHORIZATION=f"Bearer {self.secret}",
                )
                self.assertIn(response.status_code, (400, 415), response.content)
                self.assertIn("status", response.json())
        self.assertFalse(ScimResource.objects.exists())


class AccessTests(ScimTestCase):
    def test_without_a_token_nothing_but_the_configuration_is_served(self):
        self.assertEqual(self.scim("GET", "/ServiceProviderConfig", secret="").status_code, 200)
        for path in ("/Users", "/Groups", "/Schemas", "/ResourceTypes"):
            with self.subTest(path=path):
                response = self.scim("GET", path, secret="")
                self.assertEqual(response.status_code, 401)
                self.assertIn("Bearer", response["WWW-Authenticate"])
        response = self.scim(
            "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "x"}, secret=""
        )
        self.assertEqual(response.status_code, 401)
        self.assertFalse(ScimResource.objects.exists())

    def test_a_token_without_the_scope_or_of_a_lesser_role_is_refused(self):
        reader = provisioning_token(self.admin, role="reviewer", scopes=("read",))
        self.assertEqual(self.scim("GET", "/Users", secret=reader).status_code, 403)
        # A person's own token never holds the scope.
        with self.assertRaisesMessage(actions.ActionError, "service account"):
            actions.create_api_token(
                self.admin, owner=self.admin, name="x", scopes=["scim"], expires_in_days=1
            )
        account = actions.create_service_account(self.admin, username="idp-viewer", role="viewer")
        with self.assertRaisesMessage(actions.ActionError, "beyond what"):
            actions.create_api_token(
                self.admin, owner=account.user, name="x", scopes=["scim"], expires_in_days=1
            )

    def test_a_revoked_token_is_refused_and_audited(self):
        from assessments.models import ApiToken

        token = ApiToken.objects.get(scopes=["scim"])
        actions.revoke_api_token(self.admin, token)
        self.assertEqual(self.scim("GET", "/Users").status_code, 401)
        self.assertTrue(AuditEvent.objects.filter(verb="api_token.refused").exists())

    def test_a_signed_in_browser_session_does_not_reach_scim(self):
        self.client.force_login(self.admin)
        self.assertEqual(self.scim("GET", "/Users", secret="").status_code, 401)
