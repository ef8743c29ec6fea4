"""Schemathesis against the API's own OpenAPI schema: generated requests for every
operation, sent through the WSGI application, must never cause a server error and every
response must match the schema (status code, content type and body)."""

from __future__ import annotations

import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import TestCase, override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assessments.api import api
from tests import factories as f
from tests.api_helpers import token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Modest, so the suite stays fast; raise it locally when hunting (SCHEMATHESIS_EXAMPLES).
EXAMPLES = 8


class OpenApiSchemaTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = f.administrator()
        f.agent(slug="subject", owner=cls.admin)
        cls.secret = token_for(cls.admin, ("read", "write", "review"))

    def setUp(self):
        # Requests go straight through Django's WSGI handler inside this test's
        # transaction; keep the handler from closing the connection after each one.
        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        self.addCleanup(signals.request_started.connect, close_old_connections)
        self.addCleanup(signals.request_finished.connect, close_old_connections)

    def test_the_schema_is_openapi_3_1_and_valid(self):
        schema = api.get_openapi_schema()
        self.assertEqual(schema["openapi"], "3.1.0")
        loaded = schemathesis.openapi.from_dict(schema)
        operations = [result.ok() for result in loaded.get_all_operations()]
        self.assertEqual(len(operations), len([m for p in schema["paths"].values() for m in p]))

    @override_settings(API_DOCS_PUBLIC=True)  # schemathesis reads the schema unsigned
    def test_generated_requests_cause_no_server_error_and_match_the_schema(self):
        import os

        examples = int(os.environ.get("SCHEMATHESIS_EXAMPLES", EXAMPLES))
        loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
        headers = {"Authorization": f"Bearer {self.secret}"}
        for result in loaded.get_all_operations():
            operation = result.ok()
            with self.subTest(operation=operation.label):

                @given(case=operation.as_strategy())
                @settings(
                    max_examples=examples,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                def run(case):
                    case.call_and_validate(headers=headers, checks=CHECKS)

                run()


class OpenApiDocumentTests(TestCase):
    def test_the_served_schema_is_a_valid_openapi_3_1_document(self):
        from openapi_spec_validator import OpenAPIV31SpecValidator, validate

        self.client.force_login(f.viewer())

        response = self.client.get("/api/v1/openapi.json")
        self.assertEqual(response.status_code, 200)
        document = response.json()
        self.assertEqual(document["openapi"][:3], "3.1")
        validate(document, cls=OpenAPIV31SpecValidator)  # raises on any violation

    def test_decisions_and_assignments_require_the_version_read(self):
        """Issue 23: approval, return and queue assignment name the lock_version the
        person read; the schema says it is required and what a stale one does."""
        document = api.get_openapi_schema()
        components = document["components"]["schemas"]
        for path in (
            "/api/v1/agents/{slug}/assessments/{number}/approve",
            "/api/v1/agents/{slug}/assessments/{number}/return",
            "/api/v1/queue/{review_id}/assign",
        ):
            with self.subTest(path=path):
                operation = document["paths"][path]["post"]
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                shape = components[body["$ref"].rsplit("/", 1)[1]]
                self.assertIn("lock_version", shape["required"])
                self.assertIn("409", shape["properties"]["lock_version"]["description"])
                self.assertIn(409, operation["responses"])
        queue_item = components["QueueItem"]
        self.assertIn("lock_version", queue_item["required"])
