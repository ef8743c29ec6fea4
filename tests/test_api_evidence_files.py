"""Evidence files over the API as a multipart form (issue 24 item 5): past the 2 MiB a
JSON body may be, up to the page's 20 MiB per file, analysed in the background; a bad
file is refused at once, named, and nothing is stored."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from assessments import actions, evidence
from assessments.api import api
from assessments.models import AuditEvent, EvidenceJob, EvidenceUpload
from tests import factories as f
from tests.api_helpers import token_for
from tests.evidence_helpers import FIXTURES

QUARANTINED = "arn:aws:iam::111122223333:role/quarantined-admin"
URL = "/api/v1/agents/quarantined/evidence/files"


def large_account() -> bytes:
    """The quarantine case with enough other roles to pass 2 MiB (about 3 MiB)."""
    data = json.loads((FIXTURES / "public" / "aws-quarantined-admin.json").read_text())
    template = {
        "Path": "/",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [
            {
                "PolicyName": "inline",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" * 200}
                    ],
                },
            }
        ],
        "AttachedManagedPolicies": [],
    }
    for i in range(6000):
        data["RoleDetailList"].append(
            {
                **template,
                "RoleName": f"filler-{i}",
                "RoleId": f"AROA{i:017d}",
                "Arn": f"arn:aws:iam::111122223333:role/filler-{i}",
            }
        )
    body = json.dumps(data).encode()
    assert len(body) > 2 * 1024 * 1024
    return body


class EvidenceFilesApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.agent = f.agent(slug="quarantined")
        cls.draft = actions.start_assessment(cls.assessor, cls.agent)

    def setUp(self):
        self.headers = {"Authorization": f"Bearer {token_for(self.assessor, ('read', 'write'))}"}

    def send(self, *files: tuple[str, bytes], **fields: str):
        form = {"kind": "aws", "principal": QUARANTINED, **fields}
        form["files"] = [SimpleUploadedFile(name, data) for name, data in files]
        return self.client.post(URL, form, headers=self.headers)

    def refused(self, response, status: int, name: str) -> str:
        self.assertEqual(response.status_code, status, response.content[:300])
        self.assertEqual(response["Content-Type"], "application/problem+json")
        detail = response.json()["detail"]
        self.assertIn(name, detail)
        self.assertFalse(EvidenceJob.objects.exists())
        self.assertFalse(EvidenceUpload.objects.exists())
        return detail

    def test_a_file_past_the_json_bodys_2_mib_is_queued_then_its_proposals_come_back(self):
        body = large_account()
        as_json = self.client.post(
            "/api/v1/agents/quarantined/evidence",
            json.dumps({"kind": "aws", "principal": QUARANTINED, "files": []}).encode()
            + b" " * len(body),
            content_type="application/json",
            headers=self.headers,
        )
        self.assertEqual(as_json.status_code, 413)  # the JSON route stays at 2 MiB
        with self.captureOnCommitCallbacks(execute=True):
            response = self.send(("authz.json", body))
        self.assertEqual(response.status_code, 202, response.content[:300])
        job = response.json()
        self.assertEqual((job["state"], job["files"]), ("queued", ["authz.json"]))
        self.assertTrue(job["status"].endswith(f"/agents/quarantined/evidence/jobs/{job['id']}"))
        done = self.client.get(job["status"], headers=self.headers).json()
        self.assertEqual(done["state"], "done", done["message"])
        alters = next(p for p in done["proposals"] if p["key"] == "alters_own_access")
        self.assertEqual((alters["rule"], alters["status"]), ("aws.remove_limit", "pending"))
        queued = AuditEvent.objects.get(verb="evidence.queue")
        self.assertEqual(queued.changes["files"][0]["size"], len(body))

    def test_a_request_past_the_routes_limit_is_refused_before_it_is_read(self):
        response = self.client.post(
            URL,
            b"x",
            content_type="multipart/form-data; boundary=x",
            headers=self.headers,
            CONTENT_LENGTH=str(4 * evidence.MAX_BYTES + 65 * 1024),
        )
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response["Content-Type"], "application/problem+json")
        self.assertFalse(EvidenceJob.objects.exists())

    def test_a_file_over_20_mib_is_named_and_nothing_is_stored(self):
        response = self.send(("huge.json", b"{" + b" " * evidence.MAX_BYTES + b"}"))
        self.assertIn("20 MiB", self.refused(response, 413, "huge.json"))

    def test_a_file_that_is_not_an_export_is_named_and_nothing_is_stored(self):
        response = self.send(("notes.json", b'{"hello": "world"}'))
        self.assertIn("not an AWS account", self.refused(response, 422, "notes.json"))
        response = self.send(("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00"))
        self.refused(response, 422, "photo.png")

    def test_a_file_of_another_kind_is_named_and_nothing_is_stored(self):
        manifest = (FIXTURES / "public" / "argocd-server-base.yaml").read_bytes()
        self.refused(self.send(("argocd.yaml", manifest)), 422, "argocd.yaml")
        account = (FIXTURES / "public" / "aws-quarantined-admin.json").read_bytes()
        response = self.send(
            ("authz.json", account),
            kind="kubernetes",
            principal="system:serviceaccount:default:x",
        )
        self.refused(response, 422, "authz.json")

    def test_a_truncated_file_is_named_and_nothing_is_stored(self):
        body = large_account()
        detail = self.refused(self.send(("authz.json", body[: len(body) // 2])), 422, "authz.json")
        self.assertIn("invalid JSON", detail)

    def test_a_large_yaml_file_cut_in_its_last_document_is_refused(self):
        document = (FIXTURES / "public" / "argocd-server-base.yaml").read_text()
        manifest = (
            "\n---\n".join([document] * 800) + "\n---\nkind: Role\nrules: [{verbs: [get"
        ).encode()
        self.assertGreater(len(manifest), 1024 * 1024)
        detail = self.refused(
            self.send(
                ("install.yaml", manifest),
                kind="kubernetes",
                principal="system:serviceaccount:argocd:argocd-server",
            ),
            422,
            "install.yaml",
        )
        self.assertIn("last document", detail)

    def test_bad_fields_are_refused_and_queue_nothing(self):
        account = (FIXTURES / "public" / "aws-quarantined-admin.json").read_bytes()
        response = self.send(("authz.json", account), kind="azure")
        self.assertEqual(response.status_code, 422)
        self.assertIn("allowed", response.json()["detail"])
        response = self.send(("authz.json", account), principal="")
        self.assertEqual(response.status_code, 422)
        response = self.client.post(URL, {"kind": "aws"}, headers=self.headers)
        self.assertEqual(response.status_code, 422)
        self.assertFalse(EvidenceJob.objects.exists())

    def test_the_schema_documents_the_multipart_form(self):
        operation = api.get_openapi_schema()["paths"]["/api/v1/agents/{slug}/evidence/files"][
            "post"
        ]
        form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        self.assertEqual(set(form["required"]), {"kind", "files"})
        self.assertIn(413, operation["responses"])
        self.assertIn("20 MiB", operation["description"])
