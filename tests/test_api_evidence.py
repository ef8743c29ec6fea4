"""Evidence over the API: files sent as text, always analysed in the background."""

from __future__ import annotations

from django.test import TestCase

from assessments import actions
from assessments.models import EvidenceJob, EvidenceUpload
from tests import factories as f
from tests.api_helpers import ApiClient, token_for
from tests.evidence_helpers import FIXTURES

QUARANTINED = "arn:aws:iam::111122223333:role/quarantined-admin"


class EvidenceApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.assessor = f.assessor()
        cls.agent = f.agent(slug="quarantined")
        cls.draft = actions.start_assessment(cls.assessor, cls.agent)

    def setUp(self):
        self.api = ApiClient(self.client, token_for(self.assessor, ("read", "write")))

    def body(self, **extra):
        content = (FIXTURES / "public" / "aws-quarantined-admin.json").read_text()
        return {
            "kind": "aws",
            "principal": QUARANTINED,
            "files": [{"name": "authz.json", "content": content}],
            **extra,
        }

    def test_files_are_queued_then_their_proposals_and_path_steps_come_back(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.api.post("/agents/quarantined/evidence", self.body())
        self.assertEqual(response.status_code, 202, response.content)
        job = response.json()
        self.assertEqual((job["state"], job["files"]), ("queued", ["authz.json"]))
        self.assertTrue(job["status"].endswith(f"/agents/quarantined/evidence/jobs/{job['id']}"))
        done = self.api.get(f"/agents/quarantined/evidence/jobs/{job['id']}").json()
        self.assertEqual(done["state"], "done")
        upload = EvidenceUpload.objects.get()
        self.assertEqual((done["upload"], done["page"]), (upload.pk, upload.get_absolute_url()))
        alters = next(p for p in done["proposals"] if p["key"] == "alters_own_access")
        self.assertEqual((alters["rule"], alters["status"]), ("aws.remove_limit", "pending"))
        self.assertIn("remove what limits it", alters["sentence"])
        self.assertEqual(
            [e["says"][:7] for e in alters["evidence"][:3]], ["Step 1:", "Step 2:", "Step 3:"]
        )

    def test_bad_input_is_refused_at_once_and_queues_nothing(self):
        response = self.api.post("/agents/quarantined/evidence", self.body(kind="azure"))
        self.assertEqual(response.status_code, 422)
        self.assertIn("allowed", response.json()["detail"])
        response = self.api.post("/agents/quarantined/evidence", self.body(principal=""))
        self.assertEqual(response.status_code, 422)
        self.assertFalse(EvidenceJob.objects.exists())

    def test_an_unparseable_file_fails_the_job_naming_it(self):
        body = self.body(files=[{"name": "broken.yaml", "content": "a: &x 1\nb: *x\n"}])
        with self.captureOnCommitCallbacks(execute=True):
            job = self.api.post("/agents/quarantined/evidence", body).json()
        failed = self.api.get(f"/agents/quarantined/evidence/jobs/{job['id']}").json()
        self.assertEqual(failed["state"], "failed")
        self.assertIn("broken.yaml", failed["message"])
        self.assertFalse(EvidenceUpload.objects.exists())

    def test_a_job_of_another_agent_is_not_found(self):
        other = f.agent(slug="other")
        job = actions.queue_evidence(
            self.assessor, other, [("m.json", b'{"mcpServers": {}}')], kind="mcp"
        )
        response = self.api.get(f"/agents/quarantined/evidence/jobs/{job.pk}")
        self.assertEqual(response.status_code, 404)
