"""Access to every API endpoint, for every role and every token scope.

API_ACCESS is the one table: each operation's scope and the lowest role that may use
it. ``test_every_operation_is_in_the_table`` reads the OpenAPI schema, so a new
endpoint cannot ship without a line here. Every other combination must be refused:
anonymous callers get 401, a token without the scope or a role below the line 403.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from assessments import actions
from assessments.api import api
from assessments.models import ApiToken, BoardPackJob, ReportRecord, Review
from tests import factories as f
from tests.discovery_helpers import ACCOUNT, discovery_fixture
from tests.test_api import MANIFEST as ADA_MANIFEST

MANIFEST = {**ADA_MANIFEST, "agent": {**ADA_MANIFEST["agent"], "owner": "owner"}}
ROLES = ["outsider", "viewer", "assessor", "reviewer", "administrator"]
# How a caller authenticates: a token with these scopes, or the browser's session.
AUTHS: dict[str, tuple[str, ...] | None] = {
    "read": ("read",),
    "write": ("write",),
    "review": ("review",),
    "all": ("read", "write", "review"),
    "session": None,
}


@dataclass
class Op:
    scope: str
    role: str  # the lowest role allowed
    path: Callable[[dict[str, Any]], str]
    ok: int = 200
    body: Callable[[dict[str, Any]], Any] = field(default=lambda o: None)
    query: dict[str, str] = field(default_factory=dict)
    # A multipart form (fields and files) instead of a JSON body.
    form: Callable[[dict[str, Any]], dict[str, Any]] | None = None


AGENT = lambda o: "/agents/subject"  # noqa: E731
MCP_CONFIG = '{"mcpServers": {"a": {"url": "https://mcp.example.com/"}}}'
DRAFT = lambda o: "/agents/subject/assessments/1"  # noqa: E731
SUBMITTED = lambda o: "/agents/other-subject/assessments/1"  # noqa: E731

API_ACCESS: dict[tuple[str, str], Op] = {
    ("GET", "/api/v1/agents"): Op("read", "viewer", lambda o: "/agents"),
    ("POST", "/api/v1/agents"): Op(
        "write",
        "assessor",
        lambda o: "/agents",
        ok=201,
        body=lambda o: {"name": "New", "purpose": "p", "owner": "owner", "team": "platform"},
    ),
    ("GET", "/api/v1/agents/{slug}"): Op("read", "viewer", AGENT),
    ("PATCH", "/api/v1/agents/{slug}"): Op(
        "write",
        "assessor",
        AGENT,
        body=lambda o: {"lock_version": o["agent"].lock_version, "platform": "Lambda"},
    ),
    ("POST", "/api/v1/agents/{slug}/retire"): Op(
        "write", "assessor", lambda o: "/agents/subject/retire", body=lambda o: {}
    ),
    ("POST", "/api/v1/agents/{slug}/decommission"): Op(
        "write",
        "assessor",
        lambda o: "/agents/idle-one/decommission",
        body=lambda o: {"outcome": "keep", "reason": "Runs at year end"},
    ),
    ("POST", "/api/v1/agents/{slug}/reactivate"): Op(
        "write", "assessor", lambda o: "/agents/old-one/reactivate", body=lambda o: {}
    ),
    ("GET", "/api/v1/assessments"): Op("read", "viewer", lambda o: "/assessments"),
    ("GET", "/api/v1/agents/{slug}/assessments/{number}"): Op("read", "viewer", DRAFT),
    ("POST", "/api/v1/agents/{slug}/assessments"): Op(
        "write", "assessor", lambda o: "/agents/fresh-one/assessments", ok=201, body=lambda o: {}
    ),
    ("PATCH", "/api/v1/agents/{slug}/assessments/{number}/answers"): Op(
        "write",
        "assessor",
        lambda o: DRAFT(o) + "/answers",
        body=lambda o: {
            "answers": {"decision_mode": "fixed_script"},
            "lock_version": o["draft"].lock_version,
        },
    ),
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/submit"): Op(
        "write", "assessor", lambda o: "/agents/ready/assessments/1/submit", body=lambda o: {}
    ),
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/withdraw"): Op(
        "write",
        "assessor",
        lambda o: SUBMITTED(o) + "/withdraw",
        body=lambda o: {"lock_version": o["submitted"].lock_version},
    ),
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/approve"): Op(
        "review",
        "reviewer",
        lambda o: SUBMITTED(o) + "/approve",
        body=lambda o: {"lock_version": o["submitted"].lock_version},
    ),
    ("POST", "/api/v1/agents/{slug}/assessments/{number}/return"): Op(
        "review",
        "reviewer",
        lambda o: SUBMITTED(o) + "/return",
        body=lambda o: {
            "comment": "Check the systems.",
            "lock_version": o["submitted"].lock_version,
        },
    ),
    ("POST", "/api/v1/manifests"): Op(
        "write",
        "assessor",
        lambda o: "/manifests",
        body=lambda o: MANIFEST,
        query={"team": "platform"},
    ),
    ("GET", "/api/v1/queue"): Op("read", "viewer", lambda o: "/queue"),
    ("POST", "/api/v1/queue/{review_id}/assign"): Op(
        "review",
        "reviewer",
        lambda o: f"/queue/{o['review'].pk}/assign",
        body=lambda o: {"assignee": "approver", "lock_version": o["review"].lock_version},
    ),
    ("GET", "/api/v1/agents/{slug}/assessments/{number}/report.pdf"): Op(
        "read", "viewer", lambda o: DRAFT(o) + "/report.pdf"
    ),
    ("POST", "/api/v1/board-packs"): Op(
        "read", "viewer", lambda o: "/board-packs", ok=202, body=lambda o: {}
    ),
    ("POST", "/api/v1/agents/{slug}/evidence"): Op(
        "write",
        "assessor",
        lambda o: "/agents/subject/evidence",
        ok=202,
        body=lambda o: {"kind": "mcp", "files": [{"name": "mcp.json", "content": MCP_CONFIG}]},
    ),
    ("POST", "/api/v1/agents/{slug}/evidence/files"): Op(
        "write",
        "assessor",
        lambda o: "/agents/subject/evidence/files",
        ok=202,
        form=lambda o: {
            "kind": "mcp",
            "files": SimpleUploadedFile("mcp.json", MCP_CONFIG.encode()),
        },
    ),
    ("GET", "/api/v1/agents/{slug}/evidence/jobs/{job_id}"): Op(
        "read", "viewer", lambda o: f"/agents/subject/evidence/jobs/{o['evidence_job'].pk}"
    ),
    ("GET", "/api/v1/board-packs/{job_id}"): Op(
        "read", "viewer", lambda o: f"/board-packs/{o['board_pack'].pk}"
    ),
    ("GET", "/api/v1/board-packs/{job_id}/pdf"): Op(
        "read", "viewer", lambda o: f"/board-packs/{o['board_pack'].pk}/pdf"
    ),
    ("POST", "/api/v1/board-packs/{job_id}/sign-off"): Op(
        "review",
        "reviewer",
        lambda o: f"/board-packs/{o['board_pack'].pk}/sign-off",
        body=lambda o: {
            "chair": "Chair Person",
            "attendees": "A One, B Two",
            "resolution": "Noted; owners to close the gaps.",
            "meeting_date": timezone.localdate().isoformat(),
        },
    ),
    ("GET", "/api/v1/exports/inventory.csv"): Op(
        "read", "viewer", lambda o: "/exports/inventory.csv"
    ),
    ("GET", "/api/v1/agents/{slug}/assessments/{number}/oscal-results.json"): Op(
        "read", "viewer", lambda o: DRAFT(o) + "/oscal-results.json"
    ),
    ("GET", "/api/v1/board-packs/{job_id}/oscal-results.json"): Op(
        "read", "viewer", lambda o: f"/board-packs/{o['board_pack'].pk}/oscal-results.json"
    ),
    ("GET", "/api/v1/exports/oscal-poam.json"): Op(
        "read", "viewer", lambda o: "/exports/oscal-poam.json"
    ),
    ("GET", "/api/v1/exports/assessments.csv"): Op(
        "read", "viewer", lambda o: "/exports/assessments.csv"
    ),
    ("GET", "/api/v1/audit-events"): Op("read", "reviewer", lambda o: "/audit-events"),
    ("GET", "/api/v1/catalogue"): Op("read", "viewer", lambda o: "/catalogue"),
    # -- discovery
    ("POST", "/api/v1/discovery/runs"): Op(
        "write",
        "assessor",
        lambda o: "/discovery/runs",
        ok=202,
        body=lambda o: {
            "kind": "aws",
            "files": [{"name": "authz.json", "content": ACCOUNT.read_text()}],
        },
    ),
    ("GET", "/api/v1/discovery/runs"): Op("read", "viewer", lambda o: "/discovery/runs"),
    ("GET", "/api/v1/discovery/runs/{run_id}"): Op(
        "read", "viewer", lambda o: f"/discovery/runs/{o['discovery_run'].pk}"
    ),
    ("GET", "/api/v1/discovery/identities"): Op(
        "read", "viewer", lambda o: "/discovery/identities"
    ),
    ("GET", "/api/v1/discovery/identities/{identity_id}"): Op(
        "read", "viewer", lambda o: f"/discovery/identities/{o['identity'].pk}"
    ),
    ("POST", "/api/v1/discovery/identities/{identity_id}/triage"): Op(
        "write",
        "assessor",
        lambda o: f"/discovery/identities/{o['identity'].pk}/triage",
        body=lambda o: {"action": "machine", "reason": "a scheduled job"},
    ),
    ("POST", "/api/v1/discovery/triage"): Op(
        "write",
        "assessor",
        lambda o: "/discovery/triage",
        body=lambda o: {"agent_like": "no", "action": "machine", "reason": "jobs"},
    ),
    ("GET", "/api/v1/discovery/figures"): Op("read", "viewer", lambda o: "/discovery/figures"),
    # -- access certification: every role's user co-owns the item's agent
    ("GET", "/api/v1/certification/campaigns"): Op(
        "read", "viewer", lambda o: "/certification/campaigns"
    ),
    ("POST", "/api/v1/certification/campaigns"): Op(
        "review",
        "reviewer",
        lambda o: "/certification/campaigns",
        ok=201,
        body=lambda o: {
            "name": "Quarterly access review",
            "scope": "team",
            "team": "platform",
            "deadline": (timezone.localdate() + dt.timedelta(days=14)).isoformat(),
        },
    ),
    ("GET", "/api/v1/certification/campaigns/{campaign_id}"): Op(
        "read", "viewer", lambda o: f"/certification/campaigns/{o['campaign'].pk}"
    ),
    ("GET", "/api/v1/certification/campaigns/{campaign_id}/items"): Op(
        "read", "viewer", lambda o: f"/certification/campaigns/{o['campaign'].pk}/items"
    ),
    ("POST", "/api/v1/certification/items/{item_id}/attest"): Op(
        "write",
        "viewer",
        lambda o: f"/certification/items/{o['certification_item'].pk}/attest",
        body=lambda o: {"decision": "keep", "invokers": "The finance team"},
    ),
}
# A dry run only reads: the read scope and a viewer suffice.
DRY_RUN = Op(
    "read",
    "viewer",
    lambda o: "/manifests",
    body=lambda o: MANIFEST,
    query={"dry_run": "true", "team": "platform"},
)


def expected(op: Op, role: str, auth: str) -> int:
    scopes = AUTHS[auth]
    if scopes is not None and op.scope not in scopes:
        return 403
    if ROLES.index(role) < ROLES.index(op.role):
        return 403
    return op.ok


class ApiAccessTableTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.users = {role: f.user(role, None if role == "outsider" else role) for role in ROLES}
        cls.tokens: dict[tuple[str, str], str] = {}
        for role, user in cls.users.items():
            for auth, scopes in AUTHS.items():
                if scopes is None:
                    continue
                # Made directly, so a token can hold more than its role: the role must
                # still refuse what the scope would allow.
                secret = f"{ApiToken.MARK}{role}-{auth}-secret-for-tests"
                ApiToken.objects.create(
                    user=user,
                    name=auth,
                    prefix=secret[:12],
                    token_hash=ApiToken.hash_token(secret),
                    scopes=list(scopes),
                    expires_at=timezone.now() + dt.timedelta(days=1),
                    created_by=user,
                )
                cls.tokens[role, auth] = secret
        author = f.assessor("author")
        f.user("owner", "viewer")
        agent = f.agent(slug="subject", systems=[("erp", "read")])
        other = f.agent(slug="other-subject")
        retired = f.agent(slug="old-one")
        actions.retire_agent(author, retired)
        cls.objs = {
            "agent": agent,
            "draft": actions.start_assessment(author, agent),
            "submitted": actions.submit_assessment(author, f.answered(other, author)),
        }
        f.agent(slug="fresh-one")
        idle = f.agent(slug="idle-one")
        actions.trigger_review(idle, [{"code": "inactive", "detail": "Decommission?"}])
        f.answered(f.agent(slug="ready"), author)
        twice = f.agent(slug="twice")
        f.approved(twice, author, f.reviewer("approver"))
        # A gap in a latest approved assessment, for the POA&M.
        f.approved(
            f.agent(slug="gappy"), author, f.reviewer("gapper"), credential_model="static_secret"
        )
        cls.objs["review"] = Review.objects.open().get(agent=twice)
        cls.objs["board_record"] = ReportRecord.objects.create(
            document_id="AIA-BP-20260101-APIACC01",
            kind=ReportRecord.Kind.BOARD,
            content_sha256="0" * 64,
            file_sha256="1" * 64,
            params={"figures": {}},
            pages=12,
        )
        cls.objs["board_pack"] = BoardPackJob.objects.create(
            requested_by=author,
            state=BoardPackJob.State.DONE,
            pdf=b"%PDF-1.7 board pack",
            report=cls.objs["board_record"],
        )
        cls.objs["evidence_job"] = actions.queue_evidence(
            author, agent, [("mcp.json", MCP_CONFIG.encode())], kind="mcp"
        )
        cls.objs["agent"].refresh_from_db()
        cls.objs["discovery_run"], cls.objs["identity"] = discovery_fixture()
        certified = f.agent(cls.users["viewer"], slug="certified", actor=author)
        for position, role in enumerate(("assessor", "reviewer", "administrator"), 1):
            certified.co_owners.create(person=cls.users[role], position=position)
        cls.objs["campaign"] = actions.start_campaign(
            cls.users["administrator"],
            name="Every agent",
            scope_kind="all",
            deadline=timezone.localdate() + dt.timedelta(days=14),
        )
        cls.objs["certification_item"] = cls.objs["campaign"].items.get(
            agent=certified, kind="invokers"
        )

    def test_every_operation_is_in_the_table(self):
        schema = api.get_openapi_schema()
        operations = {
            (method.upper(), path)
            for path, methods in schema["paths"].items()
            for method in methods
        }
        self.assertEqual(sorted(operations - set(API_ACCESS)), [], "Add these to API_ACCESS")
        self.assertEqual(sorted(set(API_ACCESS) - operations), [], "These no longer exist")

    def call(self, method: str, op: Op, auth: str | None, role: str | None) -> Any:
        self.client.logout()
        headers = {}
        if auth == "session":
            self.client.force_login(self.users[role])
        elif auth is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role, auth]}"
        url = "/api/v1" + op.path(self.objs)
        body = op.body(self.objs)
        send = getattr(self.client, method.lower())
        if op.form is not None:
            return send(url, op.form(self.objs), headers=headers)
        if body is None:
            return send(url, op.query, headers=headers)
        if op.query:
            from urllib.parse import urlencode

            url += "?" + urlencode(op.query)
        return send(url, json.dumps(body), content_type="application/json", headers=headers)

    def test_every_operation_answers_every_role_and_scope_as_the_table_says(self):
        for key, op in API_ACCESS.items():
            with self.subTest(operation=key, role="anonymous"), transaction.atomic():
                response = self.call(key[0], op, None, None)
                self.assertEqual(response.status_code, 401)
                self.assertEqual(response["Content-Type"], "application/problem+json")
                transaction.set_rollback(True)
            for role in ROLES:
                for auth in AUTHS:
                    want = expected(op, role, auth)
                    with self.subTest(operation=key, role=role, auth=auth), transaction.atomic():
                        response = self.call(key[0], op, auth, role)
                        self.assertEqual(
                            response.status_code,
                            want,
                            b"" if response.streaming else response.content[:300],
                        )
                        if want >= 400:
                            self.assertEqual(response["Content-Type"], "application/problem+json")
                        transaction.set_rollback(True)

    def test_a_dry_run_needs_only_read(self):
        for role in ROLES:
            for auth in AUTHS:
                with self.subTest(role=role, auth=auth), transaction.atomic():
                    self.client.logout()
                    headers = {}
                    if auth == "session":
                        self.client.force_login(self.users[role])
                    else:
                        headers["Authorization"] = f"Bearer {self.tokens[role, auth]}"
                    response = self.client.post(
                        "/api/v1/manifests?dry_run=true&team=platform",
                        json.dumps(MANIFEST),
                        content_type="application/json",
                        headers=headers,
                    )
                    self.assertEqual(response.status_code, expected(DRY_RUN, role, auth))
                    transaction.set_rollback(True)

    def test_a_refused_call_is_audited_with_its_caller(self):
        from assessments.models import AuditEvent

        response = self.client.post(
            "/api/v1/agents/subject/retire",
            "{}",
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.tokens['viewer', 'all']}"},
        )
        self.assertEqual(response.status_code, 403)
        event = AuditEvent.objects.filter(verb="access.forbidden").latest("id")
        self.assertEqual(event.actor, self.users["viewer"])
        self.assertEqual(event.object_repr, "POST /api/v1/agents/subject/retire")
