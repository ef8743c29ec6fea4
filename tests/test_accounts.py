"""Account changes are audit events, and only a superuser touches superusers."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import TestCase
from django.urls import reverse

from assessments.models import AuditEvent
from assessments.records import audit
from tests import factories as f

User = get_user_model()


def verbs(user) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="auth.user", object_id=str(user.pk))
        .order_by("pk")
        .values_list("verb", flat=True)
    )


class AccountAuditTests(TestCase):
    def test_a_new_user_is_recorded_with_its_privileges(self):
        person = User.objects.create_user("newcomer", password="x-long-password-1")
        event = AuditEvent.objects.get(verb="account.created", object_id=str(person.pk))
        self.assertEqual(event.changes["is_superuser"], False)
        self.assertEqual(event.changes["password"], "set")
        self.assertEqual(event.actor_label, "system")

    def test_roles_added_and_removed_are_recorded(self):
        person = f.outsider("pat")
        person.groups.add(Group.objects.get(name="reviewer"))
        person.groups.remove(Group.objects.get(name="reviewer"))
        person.groups.add(Group.objects.get(name="viewer"))
        person.groups.clear()
        self.assertEqual(
            verbs(person),
            [
                "account.created",
                "account.roles_added",
                "account.roles_removed",
                "account.roles_added",
                "account.roles_removed",
            ],
        )
        last = AuditEvent.objects.filter(verb="account.roles_removed").latest("pk")
        self.assertEqual(last.changes, {"roles": ["viewer"]})

    def test_superuser_staff_active_and_password_changes_are_recorded(self):
        person = f.viewer("sam")
        person.is_superuser = True
        person.save()
        person.is_active = False
        person.save()
        person.set_password("another-long-password-2")
        person.save()
        person.save()  # nothing changed: nothing recorded
        account = [v for v in verbs(person) if v.startswith("account.")]
        self.assertEqual(
            account,
            [
                "account.created",
                "account.roles_added",
                "account.superuser_granted",
                "account.disabled",
                "account.password_changed",
            ],
        )
        self.assertEqual(verbs(person).count("account.password_changed"), 1)

    def test_the_change_names_the_administrator_who_made_it_and_the_chain_holds(self):
        admin = f.administrator()
        person = f.viewer("victor")
        self.client.force_login(admin)
        url = reverse("admin:auth_user_change", args=[person.pk])
        page = self.client.get(url)
        self.assertEqual(page.status_code, 200)
        form = page.context["adminform"].form
        data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
        data.update(
            username="victor",
            groups=[Group.objects.get(name="assessor").pk],
            is_active="on",
            date_joined_0=person.date_joined.strftime("%Y-%m-%d"),
            date_joined_1=person.date_joined.strftime("%H:%M:%S"),
        )
        data.pop("date_joined", None)
        data.pop("last_login", None)
        response = self.client.post(url, data)
        self.assertEqual(response.status_code, 302, getattr(response, "context", None))
        added = AuditEvent.objects.filter(verb="account.roles_added").latest("pk")
        self.assertEqual(added.actor_id, admin.pk)
        self.assertEqual(added.changes, {"roles": ["assessor"]})
        self.assertTrue(audit.verify_chain().ok)


class SuperuserGuardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = f.administrator()
        cls.root = f.user("rootie", None, is_superuser=True, is_staff=True)
        cls.person = f.viewer("vic")

    def setUp(self):
        self.client.force_login(self.admin)

    def test_an_administrator_cannot_see_the_superuser_box(self):
        page = self.client.get(reverse("admin:auth_user_change", args=[self.person.pk]))
        self.assertEqual(page.status_code, 200)
        self.assertNotContains(page, 'name="is_superuser"')
        self.assertNotContains(page, 'name="user_permissions"')

    def test_posting_the_superuser_box_anyway_grants_nothing(self):
        url = reverse("admin:auth_user_change", args=[self.person.pk])
        page = self.client.get(url)
        form = page.context["adminform"].form
        data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
        data.update(
            username="vic",
            is_superuser="on",
            is_active="on",
            groups=[Group.objects.get(name="viewer").pk],
            date_joined_0=self.person.date_joined.strftime("%Y-%m-%d"),
            date_joined_1=self.person.date_joined.strftime("%H:%M:%S"),
        )
        data.pop("date_joined", None)
        data.pop("last_login", None)
        self.client.post(url, data)
        self.person.refresh_from_db()
        self.assertFalse(self.person.is_superuser)
        self.assertFalse(AuditEvent.objects.filter(verb="account.superuser_granted").exists())

    def test_an_administrator_cannot_change_or_delete_a_superuser(self):
        change = self.client.get(reverse("admin:auth_user_change", args=[self.root.pk]))
        # Django's admin shows a read-only view when only viewing is allowed.
        self.assertNotContains(change, 'type="submit" value="Save"', status_code=200)
        delete = self.client.post(reverse("admin:auth_user_delete", args=[self.root.pk]))
        self.assertEqual(delete.status_code, 403)
        self.assertTrue(User.objects.filter(pk=self.root.pk, is_superuser=True).exists())

    def test_a_superuser_may_grant_superuser(self):
        self.client.force_login(self.root)
        page = self.client.get(reverse("admin:auth_user_change", args=[self.person.pk]))
        self.assertContains(page, 'name="is_superuser"')
