"""Access control for every route, for anonymous users and every role.

ACCESS is the one table of expected statuses. ``test_every_route_is_in_the_access_table``
walks the URLconf, so a new page cannot ship without a line here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from assessments import actions
from assessments.models import AuditEvent, BoardPackJob, ReportRecord, Review
from tests import factories as f
from tests.discovery_helpers import discovery_fixture

ROLES = ["anonymous", "outsider", "viewer", "assessor", "reviewer", "administrator"]
SIGN_IN = "sign-in"  # anonymous users are redirected to the sign-in page


def allowed_from(role: str, ok: int = 200) -> dict[str, Any]:
    """``ok`` for ``role`` and above, 403 below it, sign-in for anonymous users."""
    rank = ROLES.index(role)
    return {
        r: (SIGN_IN if r == "anonymous" else ok if ROLES.index(r) >= rank else 403) for r in ROLES
    }


SIGNED_IN_200 = {r: SIGN_IN if r == "anonymous" else 200 for r in ROLES}
REAUTHENTICATE = {r: SIGN_IN if r == "anonymous" else 302 for r in ROLES}


@dataclass
class Route:
    expected: dict[str, Any]
    args: Callable[[dict[str, Any]], list[Any]] = lambda objs: []
    method: str = "get"
    query: dict[str, str] = field(default_factory=dict)
    data: Callable[[dict[str, Any]], dict[str, Any]] = lambda objs: {}


SLUG = lambda objs: [objs["agent"].slug]  # noqa: E731
DRAFT = lambda objs: [objs["draft"].agent.slug, objs["draft"].number]  # noqa: E731
SUBMITTED = lambda objs: [objs["submitted"].agent.slug, objs["submitted"].number]  # noqa: E731

ACCESS: dict[str, Route] = {
    # Accounts
    "login": Route({r: 200 if r == "anonymous" else 302 for r in ROLES}),
    # SCIM: a bearer token with the scim scope only; no session reaches it (test_scim.py).
    "scim": Route(dict.fromkeys(ROLES, 401), args=lambda objs: ["Users"]),
    "logout": Route(dict.fromkeys(ROLES, 302), method="post"),
    "password_change": Route({r: SIGN_IN if r == "anonymous" else 200 for r in ROLES}),
    "password_change_done": Route({r: SIGN_IN if r == "anonymous" else 200 for r in ROLES}),
    "favicon": Route(dict.fromkeys(ROLES, 302)),
    # Accounts: names allauth's flows use for the pages above
    "account_login": Route({r: 200 if r == "anonymous" else 302 for r in ROLES}),
    "account_logout": Route(dict.fromkeys(ROLES, 302), method="post"),
    "account_change_password": Route({r: SIGN_IN if r == "anonymous" else 200 for r in ROLES}),
    "account_inactive": Route(dict.fromkeys(ROLES, 200)),
    "account_reauthenticate": Route({r: SIGN_IN if r == "anonymous" else 200 for r in ROLES}),
    # No role yet: the waiting page; anyone with a role is sent home
    "waiting_for_access": Route({**allowed_from("viewer", 302), "outsider": 200}),
    # Second factors: every signed-in person manages their own; changes ask for the
    # password again first (allauth's reauthentication), and pages about a factor
    # that is not enrolled are not found
    "mfa_index": Route(SIGNED_IN_200),
    "mfa_list_webauthn": Route(SIGNED_IN_200),
    "mfa_activate_totp": Route(REAUTHENTICATE),
    "mfa_add_webauthn": Route(REAUTHENTICATE),
    "mfa_generate_recovery_codes": Route(REAUTHENTICATE),
    "mfa_edit_webauthn": Route(REAUTHENTICATE, args=lambda objs: [1]),
    "mfa_remove_webauthn": Route(REAUTHENTICATE, args=lambda objs: [1]),
    "mfa_reauthenticate": Route(REAUTHENTICATE),
    "mfa_reauthenticate_webauthn": Route(REAUTHENTICATE),
    "mfa_deactivate_totp": Route({r: SIGN_IN if r == "anonymous" else 404 for r in ROLES}),
    "mfa_view_recovery_codes": Route({r: SIGN_IN if r == "anonymous" else 404 for r in ROLES}),
    "mfa_download_recovery_codes": Route({r: SIGN_IN if r == "anonymous" else 404 for r in ROLES}),
    # Only during a sign-in that stopped for a second factor; otherwise sent on
    "mfa_authenticate": Route(dict.fromkeys(ROLES, 302)),
    # Single sign-on: not found while OIDC_ISSUER is not set (tests/test_sso.py covers
    # the configured provider)
    "openid_connect_login": Route(dict.fromkeys(ROLES, 404), args=lambda objs: ["sso"]),
    "openid_connect_callback": Route(dict.fromkeys(ROLES, 404), args=lambda objs: ["sso"]),
    "socialaccount_login_cancelled": Route(dict.fromkeys(ROLES, 200)),
    "socialaccount_login_error": Route(dict.fromkeys(ROLES, 401)),
    "socialaccount_signup": Route(dict.fromkeys(ROLES, 302)),
    # Inventory
    "assessments:dashboard": Route({**allowed_from("viewer"), "outsider": 302}),
    "assessments:figures": Route(allowed_from("viewer")),
    "assessments:figures_status": Route(allowed_from("viewer")),
    "assessments:agent_list": Route(allowed_from("viewer")),
    "assessments:agent_detail": Route(allowed_from("viewer"), args=SLUG),
    "assessments:agent_lookup": Route(allowed_from("viewer"), query={"q": "sub"}),
    "assessments:agent_create": Route(allowed_from("assessor")),
    "assessments:agent_import": Route(allowed_from("assessor")),
    "assessments:agent_edit": Route(allowed_from("assessor"), args=SLUG),
    "assessments:agent_form_row": Route(
        allowed_from("assessor"), args=lambda objs: ["systems"], query={"index": "1"}
    ),
    "assessments:agent_retire": Route(allowed_from("assessor", 302), args=SLUG, method="post"),
    "assessments:agent_reactivate": Route(
        allowed_from("assessor", 302), args=lambda objs: [objs["retired"].slug], method="post"
    ),
    "assessments:agent_ownership": Route(allowed_from("assessor"), args=SLUG),
    "assessments:agent_take_on": Route(allowed_from("assessor", 302), args=SLUG, method="post"),
    "assessments:agent_activity": Route(allowed_from("assessor", 302), args=SLUG, method="post"),
    # Without a "Decommission?" review open, the page sends back to the agent
    "assessments:agent_decommission": Route(allowed_from("assessor", 302), args=SLUG),
    # Assessments
    "assessments:assessment_start": Route(
        allowed_from("assessor", 302), args=lambda objs: [objs["fresh"].slug], method="post"
    ),
    "assessments:assessment_detail": Route(allowed_from("viewer"), args=DRAFT),
    "assessments:assessment_compare": Route(
        allowed_from("viewer"), args=lambda objs: [objs["twice"].slug]
    ),
    "assessments:assessment_decide": Route(
        {**allowed_from("reviewer", 302), "administrator": 302},
        args=SUBMITTED,
        method="post",
        data=lambda objs: {"decision": "approve", "lock_version": objs["submitted"].lock_version},
    ),
    "assessments:assessment_withdraw": Route(
        allowed_from("assessor", 302),
        args=SUBMITTED,
        method="post",
        data=lambda objs: {"lock_version": objs["submitted"].lock_version},
    ),
    "assessments:wizard": Route(allowed_from("assessor", 302), args=DRAFT),
    "assessments:wizard_step": Route(
        allowed_from("assessor"), args=lambda o: [*DRAFT(o), "runtime"]
    ),
    "assessments:wizard_review": Route(allowed_from("assessor"), args=DRAFT),
    "assessments:wizard_answer": Route(
        allowed_from("assessor"),
        args=DRAFT,
        method="post",
        data=lambda objs: {
            "question": "decision_mode",
            "decision_mode": "fixed_script",
            "lock_version": objs["draft"].lock_version,
        },
    ),
    # Audit
    "assessments:audit_list": Route(allowed_from("reviewer")),
    # -- reviews routes
    "assessments:queue": Route(allowed_from("viewer")),
    "assessments:queue_bulk_assign": Route(
        allowed_from("reviewer", 302),
        method="post",
        data=lambda objs: {
            "review": [objs["review"].pk],
            f"version-{objs['review'].pk}": objs["review"].lock_version,
            "to_me": "1",
        },
    ),
    "assessments:planned_change_landed": Route(
        allowed_from("assessor", 302),
        args=lambda objs: [objs["planned"].slug, "write_access"],
        method="post",
    ),
    "assessments:calendar_feeds": Route(allowed_from("viewer")),
    # Only the feed's owner (the viewer here) can revoke it; for others it does not exist.
    "assessments:calendar_feed_revoke": Route(
        {**allowed_from("viewer", 404), "viewer": 302},
        args=lambda objs: [objs["feed"].pk],
        method="post",
    ),
    # The secret token is the credential: no session needed.
    "assessments:calendar_feed": Route(
        dict.fromkeys(ROLES, 200), args=lambda objs: [objs["feed_token"]]
    ),
    # -- reports routes
    "assessments:reports": Route(allowed_from("viewer")),
    "assessments:board_pack_request": Route(
        allowed_from("viewer", 302), method="post", data=lambda objs: {"tier": ""}
    ),
    "assessments:board_pack_status": Route(
        allowed_from("viewer"), args=lambda objs: [objs["board_pack"].pk]
    ),
    "assessments:board_pack_download": Route(
        allowed_from("viewer"), args=lambda objs: [objs["board_pack"].pk]
    ),
    # The fixture's pack is not a real PDF, so it has no register: viewers are sent back.
    "assessments:board_pack_register": Route(
        allowed_from("viewer", 302), args=lambda objs: [objs["board_pack"].pk]
    ),
    # Reviewers and administrators record a board's sign-off (once: each subtest is
    # rolled back, so each finds the pack unsigned).
    "assessments:board_pack_signoff": Route(
        allowed_from("reviewer", 302),
        args=lambda objs: [objs["board_record"].document_id],
        method="post",
        data=lambda objs: {
            "chair": "Chair Person",
            "attendees": "A One, B Two",
            "resolution": "Noted; owners to close the gaps.",
            "meeting_date": timezone.localdate().isoformat(),
        },
    ),
    "assessments:report_verify": Route(
        allowed_from("viewer"),
        method="post",
        data=lambda objs: {"file": SimpleUploadedFile("copy.pdf", b"%PDF-1.7 not issued here")},
    ),
    "assessments:assessment_report": Route(allowed_from("viewer"), args=DRAFT),
    "assessments:assessment_oscal": Route(allowed_from("viewer"), args=DRAFT),
    "assessments:board_pack_oscal": Route(
        allowed_from("viewer"), args=lambda objs: [objs["board_pack"].pk]
    ),
    "assessments:oscal_poam": Route(allowed_from("viewer")),
    "assessments:export_inventory": Route(allowed_from("viewer")),
    "assessments:export_assessments": Route(allowed_from("viewer")),
    # -- notifications routes (each person's own; any role may have some)
    "assessments:notification_list": Route(allowed_from("viewer")),
    "assessments:notification_mark_all_read": Route(allowed_from("viewer", 302), method="post"),
    "assessments:notification_preferences": Route(allowed_from("viewer")),
    # -- API access (the API's own routes are in tests/test_api_access.py)
    "assessments:api_tokens": Route(allowed_from("viewer")),
    # Only the token's owner can revoke it; for others it does not exist.
    "assessments:api_token_revoke": Route(
        {**allowed_from("viewer", 404), "viewer": 302},
        args=lambda objs: [objs["api_token"].pk],
        method="post",
    ),
    "assessments:service_account_create": Route(
        allowed_from("administrator", 302),
        method="post",
        data=lambda objs: {"username": "ci-bot", "role": "assessor"},
    ),
    # -- catalogue routes
    "assessments:catalogue": Route(allowed_from("viewer")),
    # -- evidence routes
    "assessments:evidence_add": Route(allowed_from("assessor"), args=SLUG),
    "assessments:evidence_detail": Route(
        allowed_from("viewer"), args=lambda objs: [objs["agent"].slug, objs["evidence"].pk]
    ),
    "assessments:evidence_job": Route(
        allowed_from("viewer"), args=lambda objs: [objs["agent"].slug, objs["evidence_job"].pk]
    ),
    "assessments:proposal_decide": Route(
        allowed_from("assessor", 302),
        args=lambda objs: [objs["agent"].slug, objs["evidence"].pk, objs["proposal"].pk],
        method="post",
        data=lambda objs: {"decision": "accept"},
    ),
    # -- discovery routes
    "assessments:discovery": Route(allowed_from("viewer")),
    "assessments:discovery_run": Route(
        allowed_from("viewer"), args=lambda objs: [objs["discovery_run"].pk]
    ),
    "assessments:discovery_identity": Route(
        allowed_from("viewer"), args=lambda objs: [objs["identity"].pk]
    ),
    "assessments:discovery_triage": Route(
        allowed_from("assessor", 302),
        args=lambda objs: [objs["identity"].pk],
        method="post",
        data=lambda objs: {"action": "machine", "reason": "a scheduled job"},
    ),
    "assessments:discovery_bulk_triage": Route(
        allowed_from("assessor", 302),
        method="post",
        data=lambda objs: {"agent_like": "no", "action": "machine", "reason": "jobs"},
    ),
    # -- access certification: the owner's item (the viewer owns the agent) is theirs only
    "assessments:certification_list": Route(allowed_from("viewer")),
    "assessments:certification_start": Route(allowed_from("reviewer")),
    "assessments:certification_mine": Route(allowed_from("viewer")),
    "assessments:certification_campaign": Route(
        allowed_from("viewer"), args=lambda objs: [objs["campaign"].pk]
    ),
    "assessments:certification_results_pdf": Route(
        allowed_from("viewer"), args=lambda objs: [objs["campaign"].pk]
    ),
    "assessments:certification_results_csv": Route(
        allowed_from("viewer"), args=lambda objs: [objs["campaign"].pk]
    ),
    "assessments:certification_attest": Route(
        {**allowed_from("viewer", 403), "viewer": 302},
        args=lambda objs: [objs["certification_item"].pk],
        method="post",
        data=lambda objs: {"decision": "keep", "invokers": "The finance team"},
    ),
    # Administration (the whole admin site is for administrators; see AdminAccessTests)
    "admin:index": Route(allowed_from("administrator")),
}


def _named_routes(resolver: URLResolver, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                names.add("admin:index")
                continue
            if entry.namespace == "api":  # one table of its own: tests/test_api_access.py
                continue
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= _named_routes(entry, ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(namespace + entry.name)
    return names


class AccessTableTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.users = {
            "outsider": f.outsider(),
            "viewer": f.viewer(),
            "assessor": f.assessor(),
            "reviewer": f.reviewer(),
            "administrator": f.administrator(),
        }
        author = f.assessor("author")
        agent = f.agent(slug="subject", systems=[("erp", "read")])
        other = f.agent(slug="other-subject")
        cls.objs = {
            "agent": agent,
            "retired": f.agent(slug="old-one", status="retired"),
            "fresh": f.agent(slug="fresh-one"),
            "draft": actions.start_assessment(author, agent),
            "submitted": actions.submit_assessment(author, f.answered(other, author)),
            "twice": f.agent(slug="twice"),
        }
        f.approved(cls.objs["twice"], author, f.reviewer("approver"))
        actions.start_assessment(author, cls.objs["twice"])
        # -- reviews fixtures
        cls.objs["review"] = Review.objects.open().get(agent=cls.objs["twice"])
        cls.objs["planned"] = f.agent(slug="planned")
        f.approved(
            cls.objs["planned"], author, f.reviewer("planner"), planned_changes=["write_access"]
        )
        cls.objs["feed"], cls.objs["feed_token"] = actions.create_calendar_feed(
            cls.users["viewer"], scope="mine"
        )
        # -- reports fixtures
        # A gap in a latest approved assessment, for the POA&M.
        f.approved(
            f.agent(slug="gappy"), author, f.reviewer("gapper"), credential_model="static_secret"
        )
        cls.objs["board_pack"] = BoardPackJob.objects.create(
            requested_by=author, state=BoardPackJob.State.DONE, pdf=b"%PDF-1.7 board pack"
        )
        cls.objs["board_record"] = ReportRecord.objects.create(
            document_id="AIA-BP-20260101-ACCESS01",
            kind=ReportRecord.Kind.BOARD,
            content_sha256="0" * 64,
            file_sha256="1" * 64,
            params={"figures": {}},
            pages=12,
        )
        # -- API access fixtures
        cls.objs["api_token"], _secret = actions.create_api_token(
            cls.users["viewer"],
            owner=cls.users["viewer"],
            name="ci",
            scopes=["read"],
            expires_in_days=30,
        )
        # -- catalogue fixtures
        # -- evidence fixtures
        cls.objs["evidence"] = actions.upload_evidence(
            author,
            agent,
            [("mcp.json", b'{"mcpServers": {"a": {"url": "https://mcp.example.com/"}}}')],
            kind="mcp",
        ).upload
        cls.objs["proposal"] = cls.objs["evidence"].proposals.get(key="network_reach")
        # A job still waiting for a worker (the task is not run: on_commit never fires here).
        cls.objs["evidence_job"] = actions.queue_evidence(
            author,
            agent,
            [("mcp.json", b'{"mcpServers": {"a": {"url": "https://mcp.example.com/"}}}')],
            kind="mcp",
        )
        # -- discovery fixtures
        cls.objs["discovery_run"], cls.objs["identity"] = discovery_fixture()
        # -- access certification fixtures
        certified = f.agent(cls.users["viewer"], slug="certified", actor=author)
        cls.objs["campaign"] = actions.start_campaign(
            f.reviewer("campaigner"),
            name="Quarterly access review",
            scope_kind="all",
            deadline=timezone.localdate() + dt.timedelta(days=14),
        )
        cls.objs["certification_item"] = cls.objs["campaign"].items.get(
            agent=certified, kind="invokers"
        )

    def test_every_route_is_in_the_access_table(self):
        routes = _named_routes(get_resolver())
        missing = sorted(routes - set(ACCESS))
        self.assertEqual(missing, [], "Add these routes to ACCESS in tests/test_access.py")
        stale = sorted(set(ACCESS) - routes)
        self.assertEqual(stale, [], "These ACCESS entries name routes that no longer exist")

    def test_every_route_answers_each_role_as_the_table_says(self):
        for name, route in ACCESS.items():
            url = reverse(name, args=route.args(self.objs))
            for role in ROLES:
                with self.subTest(route=name, role=role), transaction.atomic():
                    self.client.logout()
                    if role != "anonymous":
                        self.client.force_login(self.users[role])
                    send = getattr(self.client, route.method)
                    if route.method == "get":
                        response = send(url, route.query)
                    else:
                        response = send(url, route.data(self.objs))
                    expected = route.expected[role]
                    if expected == SIGN_IN:
                        self.assertEqual(response.status_code, 302)
                        self.assertTrue(
                            response["Location"].startswith(reverse("login")),
                            response["Location"],
                        )
                    else:
                        self.assertEqual(response.status_code, expected)
                    self.assertIn("Content-Security-Policy", response.headers)
                    transaction.set_rollback(True)

    def test_a_refused_request_changes_nothing_and_is_audited(self):
        self.client.force_login(self.users["viewer"])
        response = self.client.post(reverse("assessments:agent_retire", args=["subject"]))
        self.assertEqual(response.status_code, 403)
        self.objs["agent"].refresh_from_db()
        self.assertEqual(self.objs["agent"].status, "active")
        event = AuditEvent.objects.filter(verb="access.forbidden").latest("id")
        self.assertEqual(event.actor, self.users["viewer"])
        self.assertEqual(event.object_repr, "POST /agents/subject/retire/")
        self.assertEqual(event.ip_address, "127.0.0.1")


class AdminAccessTests(TestCase):
    def test_admin_pages_are_for_administrators_only(self):
        urls = [
            reverse("admin:index"),
            reverse("admin:assessments_agent_changelist"),
            reverse("admin:auth_user_changelist"),
            reverse("admin:assessments_control_changelist"),
        ]
        for role, factory in [
            ("viewer", f.viewer),
            ("assessor", f.assessor),
            ("reviewer", f.reviewer),
        ]:
            self.client.force_login(factory(f"{role}-x"))
            for url in urls:
                with self.subTest(role=role, url=url):
                    self.assertEqual(self.client.get(url).status_code, 403)
        self.client.force_login(f.administrator())
        for url in urls:
            with self.subTest(role="administrator", url=url):
                self.assertEqual(self.client.get(url).status_code, 200)

    def test_anonymous_admin_visitors_are_sent_to_the_one_sign_in_page(self):
        response = self.client.get(reverse("admin:index"), follow=True)
        self.assertEqual(response.redirect_chain[-1][0].split("?")[0], reverse("login"))


JUNK_VALUES = [
    "",
    "-1",
    "0",
    "99999999999999999999999",
    "nope",
    "'\"<script>x</script>",
    "a\x00b",
    "é✓",
    "x" * 3000,
]
COMMON_PARAMS = [
    "q",
    "page",
    "sort",
    "status",
    "team",
    "classification",
    "tier",
    "version",
    "state",
    "owner",
    "assignee",
    "reason",
    "since",
    "until",
    "from",
    "to",
    "verify",
    "index",
    "op",
    "actor",
    "verb",
    "object",
    "format",
    "due_within",
    "links-0-other",
    "period",
    "assessment",
    "email",
]


class BadQueryStringTests(AccessTableTests):
    """No query string a user can type turns any page into a 500."""

    def test_every_page_survives_junk_query_strings(self):
        for name, route in ACCESS.items():
            if route.method != "get" or name in {"logout"}:
                continue
            url = reverse(name, args=route.args(self.objs))
            for role in ("viewer", "administrator"):
                self.client.force_login(self.users[role])
                for value in JUNK_VALUES:
                    with self.subTest(route=name, role=role, value=value[:20]):
                        query = {**route.query, **dict.fromkeys(COMMON_PARAMS, value)}
                        response = self.client.get(url, query)
                        self.assertLess(response.status_code, 500)

    # The inherited tests run once, in AccessTableTests.
    test_every_route_is_in_the_access_table = None
    test_every_route_answers_each_role_as_the_table_says = None
    test_a_refused_request_changes_nothing_and_is_audited = None

    def test_junk_in_forms_is_refused_without_a_500(self):
        response = self.client.post(
            reverse("login"), {"username": "ada\x00min", "password": "x\x00y"}
        )
        self.assertLess(response.status_code, 500)
        self.client.force_login(self.users["reviewer"])
        for value in ["²", "99999999999999999999999", "-1", "1e3", "\x00"]:
            with self.subTest(value=value):
                response = self.client.post(
                    reverse("assessments:queue_bulk_assign"),
                    {"review": [value], "assignee": value},
                )
                self.assertLess(response.status_code, 500)

    def test_huge_numbers_in_paths_are_404_not_500(self):
        self.client.force_login(self.users["administrator"])
        huge = 10**25
        for url in [
            reverse("assessments:assessment_detail", args=["subject", huge]),
            reverse("assessments:wizard", args=["subject", huge]),
            f"/queue/{huge}/assign/",
        ]:
            with self.subTest(url=url):
                response = (self.client.post if "assign" in url else self.client.get)(url)
                self.assertEqual(response.status_code, 404)
