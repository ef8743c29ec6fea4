"""Single sign-on and second factors, below the browser.

Directory groups become roles (the highest wins) and teams at every SSO sign-in; a
person with no mapped group has no role and waits; SSO-only mode keeps local passwords
for the break-glass accounts; reviewers and administrators can be made to enrol a second
factor first; sign-in with TOTP and with recovery codes; the lock after five failures;
the audit events. tests/test_browser_sso.py runs the same against a real OpenID provider.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from allauth.account.signals import user_logged_in
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import TestCase, override_settings
from django.urls import reverse

from assessments.access import sso
from assessments.access.roles import role_of
from assessments.models import AuditEvent
from tests import factories as f

User = get_user_model()
ROLE_MAP = {
    "aia-viewers": "viewer",
    "aia-assessors": "assessor",
    "aia-reviewers": "reviewer",
    "aia-admins": "administrator",
}


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sso_sign_in(user, groups, sub="sub-1"):
    """What allauth does after a successful OIDC callback: the user_logged_in signal,
    with the social login that carries the token's claims."""
    claims = {"sub": sub, "preferred_username": user.username, "groups": groups}
    sociallogin = SimpleNamespace(account=SimpleNamespace(extra_data={"userinfo": claims}))
    user_logged_in.send(sender=User, request=None, user=user, sociallogin=sociallogin)


@override_settings(OIDC_ROLE_MAP=ROLE_MAP, OIDC_TEAM_PREFIX="team:", OIDC_GROUPS_CLAIM="groups")
class GroupMappingTests(TestCase):
    def setUp(self):
        self.person = f.outsider("sso-person")

    def test_each_mapped_group_gives_its_role(self):
        for group, role in ROLE_MAP.items():
            with self.subTest(group=group):
                sso_sign_in(self.person, [group, "everyone"])
                self.assertEqual(role_of(self.person), role)
                self.assertEqual(self.person.groups.count(), 1)

    def test_the_highest_role_wins(self):
        sso_sign_in(self.person, ["aia-viewers", "aia-reviewers", "aia-assessors"])
        self.assertEqual(role_of(self.person), "reviewer")
        self.assertEqual(sso.role_for(["aia-admins", "aia-viewers"]), "administrator")

    def test_a_person_with_no_mapped_group_has_no_role_and_waits(self):
        sso_sign_in(self.person, ["everyone", "Administrators", "administrator"])
        self.assertIsNone(role_of(self.person))
        self.assertFalse(self.person.is_staff or self.person.is_superuser)
        self.client.force_login(self.person)
        self.assertRedirects(
            self.client.get(reverse("assessments:dashboard")), reverse("waiting_for_access")
        )
        page = self.client.get(reverse("waiting_for_access"))
        self.assertContains(page, "Waiting for access")
        self.assertEqual(self.client.get(reverse("assessments:agent_list")).status_code, 403)

    def test_the_role_changes_and_goes_at_the_next_sign_in(self):
        sso_sign_in(self.person, ["aia-admins"])
        self.assertEqual(role_of(self.person), "administrator")
        sso_sign_in(self.person, ["aia-viewers"])
        self.assertEqual(role_of(self.person), "viewer")
        self.assertEqual(list(self.person.groups.values_list("name", flat=True)), ["viewer"])
        sso_sign_in(self.person, [])
        self.assertIsNone(role_of(self.person))
        self.assertEqual(self.person.groups.count(), 0)
        verbs = list(
            AuditEvent.objects.filter(
                object_id=str(self.person.pk), verb__startswith="account.roles"
            )
            .order_by("pk")
            .values_list("verb", "changes")
        )
        self.assertEqual(
            verbs,
            [
                ("account.roles_added", {"roles": ["administrator"]}),
                ("account.roles_removed", {"roles": ["administrator"]}),
                ("account.roles_added", {"roles": ["viewer"]}),
                ("account.roles_removed", {"roles": ["viewer"]}),
            ],
        )

    def test_team_groups_make_the_person_a_member(self):
        platform, payments, _ = f.team("Platform"), f.team("Payments"), f.team("Data")
        sso_sign_in(self.person, ["aia-assessors", "team:platform", "team:payments", "team:nope"])
        self.assertEqual(set(self.person.teams.all()), {platform, payments})
        self.assertEqual(set(platform.members.all()), {self.person})
        sso_sign_in(self.person, ["aia-assessors", "team:payments"])
        self.assertEqual(list(self.person.teams.all()), [payments])
        removed = AuditEvent.objects.filter(verb="account.teams_removed").latest("pk")
        self.assertEqual(removed.changes, {"teams": ["Platform"]})

    @override_settings(OIDC_TEAM_PREFIX="")
    def test_no_team_prefix_leaves_teams_alone(self):
        team = f.team("Platform")
        team.members.add(self.person)
        sso_sign_in(self.person, ["aia-assessors", "team:payments"])
        self.assertEqual(list(self.person.teams.all()), [team])

    def test_each_sso_sign_in_is_audited_with_the_groups_and_role(self):
        f.team("Platform")
        sso_sign_in(self.person, ["aia-reviewers", "team:platform", "other"])
        event = AuditEvent.objects.get(verb="auth.login_sso")
        self.assertEqual(event.actor, self.person)
        self.assertEqual(
            event.changes,
            {
                "groups": ["aia-reviewers", "other", "team:platform"],
                "role": "reviewer",
                "teams": ["Platform"],
            },
        )

    @override_settings(OIDC_GROUPS_CLAIM="roles")
    def test_the_groups_claim_is_configurable_and_may_be_a_single_string(self):
        self.assertEqual(
            sso.groups_in({"roles": "aia-admins", "groups": ["aia-viewers"]}), ["aia-admins"]
        )
        self.assertEqual(sso.groups_in({"groups": ["aia-viewers"]}), [])

    def test_a_local_sign_in_does_not_touch_roles(self):
        person = f.reviewer("rex")
        self.client.post(reverse("login"), {"login": "rex", "password": f.PASSWORD})
        self.assertEqual(role_of(person), "reviewer")
        self.assertFalse(AuditEvent.objects.filter(verb="auth.login_sso").exists())


@override_settings(SSO_ONLY=True, SSO_BREAK_GLASS_USERS=["root"])
class SsoOnlyTests(TestCase):
    def setUp(self):
        self.admin = f.administrator("root")
        self.person = f.assessor("ada")

    def test_local_passwords_are_refused_for_everyone_else(self):
        response = self.client.post(reverse("login"), {"login": "ada", "password": f.PASSWORD})
        self.assertContains(response, "Local passwords are turned off", status_code=403)
        self.assertNotIn("_auth_user_id", self.client.session)
        event = AuditEvent.objects.get(verb="auth.login_refused")
        self.assertEqual((event.actor_label, event.changes), ("ada", {"reason": "sso_only"}))
        # The older field name is refused the same way.
        old = self.client.post(reverse("login"), {"username": "ADA ", "password": f.PASSWORD})
        self.assertEqual(old.status_code, 403)

    def test_the_break_glass_account_still_signs_in(self):
        response = self.client.post(reverse("login"), {"login": "root", "password": f.PASSWORD})
        self.assertRedirects(response, reverse("assessments:dashboard"))

    def test_the_password_change_page_is_refused_except_for_break_glass(self):
        self.client.force_login(self.person)
        page = self.client.get(reverse("password_change"))
        self.assertContains(page, "your password is changed there", status_code=403)
        post = self.client.post(
            reverse("account_change_password"),
            {
                "old_password": f.PASSWORD,
                "new_password1": "a-brand-new-long-password-7",
                "new_password2": "a-brand-new-long-password-7",
            },
        )
        self.assertEqual(post.status_code, 403)
        self.person.refresh_from_db()
        self.assertTrue(self.person.check_password(f.PASSWORD))
        self.client.force_login(self.admin)
        self.assertContains(self.client.get(reverse("password_change")), "Change password")

    @override_settings(SSO_ONLY=False)
    def test_without_sso_only_everyone_changes_their_password(self):
        self.client.force_login(self.person)
        self.assertEqual(self.client.get(reverse("password_change")).status_code, 200)


class SignInWithSecondFactorTests(TestCase):
    def setUp(self):
        self.person = f.reviewer("rex")

    def sign_in(self, username="rex", password=f.PASSWORD):
        return self.client.post(reverse("login"), {"login": username, "password": password})

    def test_totp_is_asked_after_the_password_and_a_good_code_signs_in(self):
        secret = generate_totp_secret()
        TOTP.activate(self.person, secret)
        response = self.sign_in()
        self.assertRedirects(response, reverse("mfa_authenticate"), fetch_redirect_response=False)
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertFalse(self.client.get(reverse("assessments:dashboard")).status_code == 200)
        wrong = self.client.post(reverse("mfa_authenticate"), {"code": "000000"})
        if totp_code(secret) != "000000":
            self.assertEqual(wrong.status_code, 200)
            self.assertNotIn("_auth_user_id", self.client.session)
        good = self.client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
        self.assertRedirects(good, reverse("assessments:dashboard"))
        self.assertEqual(self.client.session["_auth_user_id"], str(self.person.pk))
        self.assertTrue(AuditEvent.objects.filter(verb="auth.login", actor=self.person).exists())

    def test_a_recovery_code_signs_in_once(self):
        TOTP.activate(self.person, generate_totp_secret())
        codes = RecoveryCodes.activate(self.person).get_unused_codes()
        self.sign_in()
        response = self.client.post(reverse("mfa_authenticate"), {"code": codes[0]})
        self.assertRedirects(response, reverse("assessments:dashboard"))
        self.client.post(reverse("logout"))
        self.sign_in()
        again = self.client.post(reverse("mfa_authenticate"), {"code": codes[0]})
        self.assertEqual(again.status_code, 200)
        self.assertNotIn("_auth_user_id", self.client.session)
        other = self.client.post(reverse("mfa_authenticate"), {"code": codes[1]})
        self.assertRedirects(other, reverse("assessments:dashboard"))

    def test_five_wrong_codes_lock_the_second_factor(self):
        secret = generate_totp_secret()
        TOTP.activate(self.person, secret)
        self.sign_in()
        wrong = "111111" if totp_code(secret) != "111111" else "222222"
        for _ in range(4):
            response = self.client.post(reverse("mfa_authenticate"), {"code": wrong})
            self.assertEqual(response.status_code, 200)
        fifth = self.client.post(reverse("mfa_authenticate"), {"code": wrong})
        self.assertEqual(fifth.status_code, 429)
        right = self.client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
        self.assertEqual(right.status_code, 429)
        self.assertNotIn("_auth_user_id", self.client.session)
        locked = AuditEvent.objects.get(verb="auth.locked_out")
        self.assertEqual(locked.actor_label, "rex")
        self.assertEqual(locked.changes["via"], "second factor")
        # The password and the second factor share one counter: signing in is locked too.
        self.client.post(reverse("logout"))
        self.assertEqual(self.sign_in().status_code, 429)

    def test_wrong_passwords_and_wrong_codes_count_together(self):
        secret = generate_totp_secret()
        TOTP.activate(self.person, secret)
        wrong = "111111" if totp_code(secret) != "111111" else "222222"
        for _ in range(3):
            self.assertEqual(self.sign_in(password="wrong").status_code, 200)
        # The right password leads on to the second factor and forgives nothing.
        self.assertRedirects(
            self.sign_in(), reverse("mfa_authenticate"), fetch_redirect_response=False
        )
        self.assertEqual(
            self.client.post(reverse("mfa_authenticate"), {"code": wrong}).status_code, 200
        )
        fifth = self.client.post(reverse("mfa_authenticate"), {"code": wrong})
        self.assertEqual(fifth.status_code, 429)
        right = self.client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
        self.assertEqual(right.status_code, 429)
        self.assertNotIn("_auth_user_id", self.client.session)

    def test_signing_in_with_a_second_factor_many_times_never_locks_the_password(self):
        TOTP.activate(self.person, generate_totp_secret())
        for _ in range(7):  # right password, second factor never answered
            self.client.cookies.clear()
            response = self.sign_in()
            self.assertRedirects(
                response, reverse("mfa_authenticate"), fetch_redirect_response=False
            )

    def test_five_failures_with_the_login_field_still_lock(self):
        for _ in range(4):
            self.assertEqual(self.sign_in(password="nope-nope-nope").status_code, 200)
        self.assertEqual(self.sign_in(password="nope-nope-nope").status_code, 429)
        self.assertEqual(self.sign_in().status_code, 429)
        self.assertNotIn("_auth_user_id", self.client.session)
        self.assertEqual(AuditEvent.objects.filter(verb="auth.locked_out").count(), 1)


@override_settings(MFA_REQUIRED_ROLES=["reviewer", "administrator"])
class RequiredSecondFactorTests(TestCase):
    def setUp(self):
        self.person = f.reviewer("rex")

    def sign_in(self, username="rex"):
        response = self.client.post(reverse("login"), {"login": username, "password": f.PASSWORD})
        self.assertEqual(response.status_code, 302)

    def test_a_reviewer_without_a_factor_enrols_first_then_passes(self):
        self.sign_in()
        for name in ("assessments:dashboard", "assessments:agent_list"):
            response = self.client.get(reverse(name))
            self.assertRedirects(response, reverse("mfa_index") + "?required=1")
        self.assertEqual(self.client.get(reverse("mfa_index")).status_code, 200)
        # Enrol TOTP through allauth's page: the secret is shown, a code confirms it.
        page = self.client.get(reverse("mfa_activate_totp"))
        # allauth asks for the password again before a factor changes.
        self.assertRedirects(
            page,
            reverse("account_reauthenticate")
            + "?next="
            + reverse("mfa_activate_totp").replace("/", "%2F"),
            fetch_redirect_response=False,
        )
        self.client.post(reverse("account_reauthenticate"), {"password": f.PASSWORD})
        page = self.client.get(reverse("mfa_activate_totp"))
        self.assertEqual(page.status_code, 200)
        secret = self.client.session[SECRET_SESSION_KEY]
        done = self.client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
        self.assertEqual(done.status_code, 302)
        self.assertTrue(
            Authenticator.objects.filter(user=self.person, type=Authenticator.Type.TOTP).exists()
        )
        self.assertEqual(self.client.get(reverse("assessments:dashboard")).status_code, 200)
        self.assertEqual(self.client.get(reverse("assessments:agent_list")).status_code, 200)
        added = AuditEvent.objects.filter(verb="account.mfa_added").order_by("pk")
        self.assertEqual(
            [(e.actor_id, e.changes["type"]) for e in added],
            [(self.person.pk, "totp"), (self.person.pk, "recovery_codes")],
        )

    def test_roles_outside_the_setting_are_not_held_up(self):
        f.assessor("ada")
        self.sign_in("ada")
        self.assertEqual(self.client.get(reverse("assessments:dashboard")).status_code, 200)

    def test_removing_the_factor_is_audited_and_the_gate_closes_again(self):
        TOTP.activate(self.person, secret := generate_totp_secret())
        self.client.post(reverse("login"), {"login": "rex", "password": f.PASSWORD})
        self.client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
        self.assertEqual(self.client.get(reverse("assessments:dashboard")).status_code, 200)
        self.client.post(reverse("account_reauthenticate"), {"password": f.PASSWORD})
        response = self.client.post(reverse("mfa_deactivate_totp"))
        self.assertEqual(response.status_code, 302)
        self.assertFalse(Authenticator.objects.filter(user=self.person).exists())
        event = AuditEvent.objects.get(verb="account.mfa_removed")
        self.assertEqual((event.actor_id, event.changes), (self.person.pk, {"type": "totp"}))
        self.assertRedirects(
            self.client.get(reverse("assessments:dashboard")),
            reverse("mfa_index") + "?required=1",
        )


class SecretsAtRestTests(TestCase):
    def test_totp_secrets_and_recovery_seeds_are_encrypted_and_survive_a_key_rotation(self):
        person = f.reviewer("rex")
        secret = generate_totp_secret()
        totp = TOTP.activate(person, secret)
        codes = RecoveryCodes.activate(person)
        self.assertNotIn(secret, str(totp.instance.data))
        self.assertNotIn(codes.get_unused_codes()[0], str(codes.instance.data))
        stored = Authenticator.objects.get(pk=totp.instance.pk)
        self.assertTrue(TOTP(stored).validate_code(totp_code(secret)))
        with override_settings(
            SECRET_KEY="a-new-secret-key-after-rotation-" + "n" * 40,
            SECRET_KEY_FALLBACKS=[settings.SECRET_KEY],
        ):
            self.assertEqual(
                sso.MFAAdapter().decrypt(stored.data["secret"]), secret
            )  # the old key still reads it
        other_key = override_settings(SECRET_KEY="another-" + "z" * 50, SECRET_KEY_FALLBACKS=[])
        with other_key, self.assertRaises(InvalidToken):
            sso.MFAAdapter().decrypt(stored.data["secret"])


PROVIDERS = {
    "openid_connect": {
        "APPS": [
            {
                "provider_id": "sso",
                "name": "Corporate SSO",
                "client_id": "rp",
                "secret": "s",
                "settings": {"server_url": "https://idp.example.com/realms/staff"},
            }
        ]
    }
}


class SignInPageTests(TestCase):
    def form_action(self, response) -> str:
        policy = response["Content-Security-Policy"]
        return next(p for p in policy.split(";") if p.strip().startswith("form-action")).strip()

    def test_without_a_provider_forms_post_to_this_site_only(self):
        page = self.client.get(reverse("login"))
        self.assertNotContains(page, "Sign in with")
        self.assertEqual(self.form_action(page), "form-action 'self'")

    @override_settings(
        SOCIALACCOUNT_PROVIDERS=PROVIDERS,
        OIDC_PROVIDER_NAME="Corporate SSO",
        OIDC_FORM_ACTION_ORIGINS=["https://login.example.net"],
    )
    def test_with_a_provider_the_sign_in_form_may_lead_to_it(self):
        page = self.client.get(reverse("login"))
        self.assertContains(page, "Sign in with Corporate SSO")
        self.assertEqual(
            self.form_action(page),
            "form-action 'self' https://idp.example.com https://login.example.net",
        )
        confirm = self.client.get(reverse("openid_connect_login", args=["sso"]))
        self.assertEqual(confirm.status_code, 200)
        self.assertIn("https://idp.example.com", self.form_action(confirm))
        # Other pages keep the strict policy.
        self.client.force_login(f.viewer())
        dashboard = self.client.get(reverse("assessments:dashboard"))
        self.assertEqual(self.form_action(dashboard), "form-action 'self'")


class AskingAgainIsLockedTests(TestCase):
    """Whoever holds a signed-in session cannot guess the person's password or second
    factor without limit where they are asked again (reauthentication before a factor
    is added or removed, and the password change): five wrong answers lock it."""

    def setUp(self):
        self.person = f.reviewer("rex")
        self.client.force_login(self.person)

    def assert_locked_after_five(self, url: str, wrong: dict, right: dict) -> None:
        for _ in range(4):
            self.assertEqual(self.client.post(url, wrong).status_code, 200)
        self.assertEqual(self.client.post(url, wrong).status_code, 429)
        self.assertEqual(self.client.post(url, right).status_code, 429)  # locked, even right
        locked = AuditEvent.objects.filter(verb="auth.locked_out").latest("pk")
        self.assertEqual(locked.actor_label, "rex")

    def test_reauthenticating_with_the_password(self):
        self.assert_locked_after_five(
            reverse("account_reauthenticate"), {"password": "wrong"}, {"password": f.PASSWORD}
        )

    def test_reauthenticating_with_a_second_factor(self):
        secret = generate_totp_secret()
        TOTP.activate(self.person, secret)
        wrong = "111111" if totp_code(secret) != "111111" else "222222"
        self.assert_locked_after_five(
            reverse("mfa_reauthenticate"), {"code": wrong}, {"code": totp_code(secret)}
        )

    def test_changing_the_password(self):
        new = {"new_password1": "a-brand-new-long-password-7"}
        new["new_password2"] = new["new_password1"]
        self.assert_locked_after_five(
            reverse("password_change"),
            {"old_password": "wrong", **new},
            {"old_password": f.PASSWORD, **new},
        )
        self.person.refresh_from_db()
        self.assertTrue(self.person.check_password(f.PASSWORD))

    def test_one_counter_across_sign_in_reauthentication_second_factor_and_password(self):
        secret = generate_totp_secret()
        TOTP.activate(self.person, secret)
        wrong_code = "111111" if totp_code(secret) != "111111" else "222222"
        new = {"new_password1": "a-brand-new-long-password-7"}
        new["new_password2"] = new["new_password1"]
        wrong = [
            (reverse("account_reauthenticate"), {"password": "wrong"}),
            (reverse("mfa_reauthenticate"), {"code": wrong_code}),
            (reverse("password_change"), {"old_password": "wrong", **new}),
            (reverse("account_reauthenticate"), {"password": "wrong"}),
        ]
        for url, data in wrong:
            self.assertEqual(self.client.post(url, data).status_code, 200, url)
        # The fifth wrong answer, wherever it is given, locks them all.
        fifth = self.client.post(reverse("password_change"), {"old_password": "wrong", **new})
        self.assertEqual(fifth.status_code, 429)
        locked = AuditEvent.objects.get(verb="auth.locked_out")
        self.assertEqual(locked.changes["via"], "password change")
        for url, data in (
            (reverse("account_reauthenticate"), {"password": f.PASSWORD}),
            (reverse("mfa_reauthenticate"), {"code": totp_code(secret)}),
        ):
            self.assertEqual(self.client.post(url, data).status_code, 429, url)
        self.client.logout()
        signed_in = self.client.post(reverse("login"), {"login": "rex", "password": f.PASSWORD})
        self.assertEqual(signed_in.status_code, 429)

    def test_a_right_answer_frees_the_attempts(self):
        url = reverse("account_reauthenticate")
        for _ in range(4):
            self.client.post(url, {"password": "wrong"})
        self.assertEqual(self.client.post(url, {"password": f.PASSWORD}).status_code, 302)
        for _ in range(4):
            self.assertEqual(self.client.post(url, {"password": "wrong"}).status_code, 200)
