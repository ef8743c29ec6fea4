"""``manage.py assess``: manifests in, the engine's result out, nothing written.

Most tests call the command in-process (so they see the test database and the
inventory); ``AssessProcessTests`` runs it as a real process to check the exit
statuses and stderr a deployment pipeline sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.test import SimpleTestCase, TestCase
from django.test.utils import CaptureQueriesContext

from assessments import actions, engine
from assessments.interchange.manifest import ManifestError, check_manifest, parse_text
from assessments.models import (
    Agent,
    Assessment,
    AuditEvent,
    CatalogueVersion,
    Control,
    ReviewInterval,
    System,
)
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "fixtures" / "invoice-triage.yaml"

# A machine identity with every control that applies in place: no gap, no flag.
CLEAN_ANSWERS: dict[str, Any] = {
    **f.SCRIPT_ANSWERS,
    "systems": [{"name": "ledger", "access": "read"}],
    "access_review": "quarterly",
}
# An agent identity whose traceability is unanswered: the blocking audit_gap fires, but no
# control is a gap (the audit-record control is unknown, not a gap, without the answers).
AUDIT_GAP_ONLY: dict[str, Any] = {
    "decision_mode": "context_driven",
    "tool_selection": "chooses_from_allowlist",
    "crosses_environments": False,
    "calls_external_apis": False,
    "credential_model": "per_task_tokens",
    "decides_own_scopes": False,
    "alters_own_access": False,
    "shared_platform_role": False,
    "systems": [{"name": "ledger", "access": "read"}],
    "human_approval": "high_impact_only",
    "delegated_approval": False,
    "network_reach": "allowlisted",
    "orchestration": "standalone",
    "hybrid_pipeline": False,
    "planned_changes": [],
    "policy_enforcement": "intent_aware",
    "kill_switch": True,
    "access_review": "quarterly",
}


def manifest(slug: str = "ledger-sync", answers: dict[str, Any] | None = None, **agent: Any):
    return {
        "agent": {"name": agent.pop("name", slug.replace("-", " ").title()), "slug": slug, **agent},
        "answers": CLEAN_ANSWERS if answers is None else answers,
    }


def run(*args: str) -> tuple[int, str, str]:
    """Run ``assess`` in-process: (exit status, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("assess", *args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


class FilesMixin:
    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)  # type: ignore[attr-defined]
        self.dir = Path(tmp.name)

    def write(self, name: str, content: Any) -> str:
        path = self.dir / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif name.endswith(".json"):
            path.write_text(json.dumps(content), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        return str(path)


class AssessOutputTests(FilesMixin, TestCase):
    def expected(self, answers: dict[str, Any]) -> dict[str, Any]:
        return engine.evaluate(engine.validate_answers(answers)).to_dict()

    def test_the_decision_model_example_prints_one_object_with_agent_file_and_engine_fields(self):
        code, out, err = run(str(EXAMPLE))
        self.assertEqual((code, err), (0, ""))
        result = json.loads(out)
        raw = yaml.safe_load(EXAMPLE.read_text())
        self.assertEqual(result["file"], str(EXAMPLE))
        self.assertEqual(
            result["agent"], {"slug": "invoice-triage", "name": "Invoice triage assistant"}
        )
        engine_fields = {k: v for k, v in result.items() if k not in ("file", "agent")}
        self.assertEqual(engine_fields, self.expected(raw["answers"]))
        # What the example shows: runtime decisions, and a linked agent whose bank-api
        # admin access the invoice assistant does not hold alone.
        self.assertEqual(result["classification"], "agent_identity")
        self.assertEqual(result["tier"], 4)
        self.assertIn("composite_escalation", result["flags"])
        self.assertIn("audit_gap", result["flags"])

    def test_json_and_yaml_manifests_give_the_same_result(self):
        data = yaml.safe_load(EXAMPLE.read_text())
        yaml_file = self.write("agent.yaml", data)
        json_file = self.write("agent.json", data)
        results = [json.loads(run(path)[1]) for path in (yaml_file, json_file)]
        for result in results:
            result.pop("file")
        self.assertEqual(results[0], results[1])

    def test_a_file_without_a_known_extension_is_read_by_its_content(self):
        data = manifest()
        as_json = self.write("agent.manifest", json.dumps(data, indent=2))
        as_yaml = self.write("other.manifest", yaml.safe_dump(data))
        flow_yaml = self.write("flow.txt", "{agent: {name: Flow, slug: flow}, answers: {}}")
        for path in (as_json, as_yaml, flow_yaml):
            with self.subTest(path=path):
                code, out, _ = run(path)
                self.assertEqual(code, 0)
                self.assertIn(json.loads(out)["agent"]["slug"], ("ledger-sync", "flow"))

    def test_a_list_in_one_file_prints_a_list_in_file_order(self):
        path = self.write("fleet.yaml", [manifest("first"), manifest("second")])
        code, out, _ = run(path)
        self.assertEqual(code, 0)
        results = json.loads(out)
        self.assertEqual([r["agent"]["slug"] for r in results], ["first", "second"])
        self.assertEqual({r["file"] for r in results}, {path})

    def test_a_list_of_one_still_prints_a_list(self):
        # The output's shape follows the file's, so a pipeline parsing a fleet file does
        # not break the day the fleet shrinks to one agent.
        code, out, _ = run(self.write("fleet.yaml", [manifest("only")]))
        self.assertEqual(code, 0)
        self.assertIsInstance(json.loads(out), list)

    def test_several_files_print_a_json_list_in_the_order_given(self):
        a = self.write("a.yaml", manifest("alpha"))
        b = self.write("b.json", manifest("bravo"))
        c = self.write("c.yaml", [manifest("charlie"), manifest("delta")])
        code, out, _ = run(b, a, c)
        self.assertEqual(code, 0)
        results = json.loads(out)
        self.assertEqual(
            [(r["agent"]["slug"], r["file"]) for r in results],
            [("bravo", b), ("alpha", a), ("charlie", c), ("delta", c)],
        )

    def test_text_format_is_a_readable_summary(self):
        code, out, _ = run(str(EXAMPLE), "--format", "text")
        self.assertEqual(code, 0)
        result = engine.evaluate(
            engine.validate_answers(yaml.safe_load(EXAMPLE.read_text())["answers"])
        )
        self.assertIn(f"Invoice triage assistant (invoice-triage)  · {EXAMPLE}", out)
        self.assertIn("Class       Agent identity", out)
        self.assertIn("Tier        4 · Critical, review every 30 days", out)
        self.assertIn("runtime decisions: yes", out)
        self.assertIn("per-task access: no", out)
        self.assertIn("traceability: partial", out)
        self.assertIn("audit_gap (blocking)", out)
        self.assertIn("composite_escalation", out)
        self.assertIn("payments-agent (manifest: bank-api (admin))", out)
        flat = " ".join(out.split())
        for sentence in result.rationale:
            self.assertIn(" ".join(sentence.split()), flat)
        self.assertIn("Controls    2 gaps, 3 in place, 4 unknown", out)
        self.assertRegex(out, r"gap\s+AIC-05\s+Per-action audit record")
        self.assertRegex(out, r"in place\s+AIC-01\s+Dedicated workload identity")
        self.assertRegex(out, r"unknown\s+AIC-03\s+Intent-aware authorisation")
        self.assertIn("Provisional no", out)
        self.assertIn("Catalogue   2026.1", out)
        self.assertFalse(out.lstrip().startswith("{"))

    def test_text_format_separates_several_agents(self):
        path = self.write("fleet.yaml", [manifest("first"), manifest("second")])
        code, out, _ = run(path, "--format", "text")
        self.assertEqual(code, 0)
        blocks = out.strip().split("\n\n")
        self.assertEqual(len(blocks), 2)
        self.assertTrue(blocks[0].startswith(f"First (first)  · {path} [manifest 1]"))
        self.assertTrue(blocks[1].startswith(f"Second (second)  · {path} [manifest 2]"))

    def test_text_format_says_what_is_unanswered(self):
        partial = {"decision_mode": "fixed_script", "systems": []}
        code, out, _ = run(self.write("partial.yaml", manifest(answers=partial)), "--format=text")
        self.assertEqual(code, 0)
        self.assertIn("Provisional yes; could still change the class: tool_selection", out)
        self.assertIn("missing: tool_selection", out)

    def test_a_partial_manifest_is_provisional_in_json_too(self):
        code, out, _ = run(
            self.write("partial.json", manifest(answers={"alters_own_access": False}))
        )
        self.assertEqual(code, 0)
        result = json.loads(out)
        self.assertTrue(result["provisional"])
        self.assertIn("decision_mode", result["unanswered"])

    def test_review_intervals_come_from_the_administrators_settings(self):
        ReviewInterval.objects.create(tier=4, days=14)
        result = json.loads(run(str(EXAMPLE))[1])
        self.assertEqual(result["review_interval_days"], 14)

    def test_the_current_catalogue_version_in_the_database_is_used(self):
        author = f.administrator()
        copy = actions.copy_catalogue_version(
            author, CatalogueVersion.objects.get(), new_version="2026.9"
        )
        Control.objects.filter(catalogue=copy, control_id="AIC-05").update(
            title="Audit record per action (edited)"
        )
        actions.make_catalogue_current(author, copy)
        result = json.loads(run(str(EXAMPLE))[1])
        self.assertEqual(result["catalogue_version"], "2026.9")
        self.assertIn(
            {"id": "AIC-05", "title": "Audit record per action (edited)", "status": "gap"},
            result["controls"],
        )

    def test_without_a_current_catalogue_the_bundled_one_is_used(self):
        CatalogueVersion.objects.update(is_current=False)
        result = json.loads(run(str(EXAMPLE))[1])
        self.assertEqual(result["catalogue_version"], engine.load_catalogue().version)


class FailOnGapsTests(FilesMixin, TestCase):
    def test_gaps_fail_the_run_only_with_fail_on_gaps(self):
        code, out, _ = run(str(EXAMPLE))
        self.assertEqual(code, 0)
        code, out, err = run(str(EXAMPLE), "--fail-on-gaps")
        self.assertEqual(code, 1)
        # The result is still printed, for the pipeline's log.
        self.assertEqual(json.loads(out)["agent"]["slug"], "invoice-triage")
        self.assertIn(
            "--fail-on-gaps: 1 of 1 agent failed: invoice-triage (gaps AIC-05, AIC-09; "
            "blocking flag audit_gap).",
            err,
        )

    def test_a_clean_agent_passes_fail_on_gaps(self):
        path = self.write("clean.yaml", manifest())
        code, out, err = run(path, "--fail-on-gaps")
        self.assertEqual((code, err), (0, ""))
        result = json.loads(out)
        self.assertEqual([c["status"] for c in result["controls"]], ["in_place"] * 4)
        self.assertEqual(result["flags"], [])

    def test_unknown_controls_do_not_fail_the_run(self):
        partial = {**CLEAN_ANSWERS}
        del partial["access_review"]
        code, out, _ = run(self.write("unknown.yaml", manifest(answers=partial)), "--fail-on-gaps")
        self.assertEqual(code, 0)
        self.assertIn("unknown", [c["status"] for c in json.loads(out)["controls"]])

    def test_the_blocking_audit_gap_alone_fails_the_run(self):
        path = self.write("audit.yaml", manifest("audit-gap", AUDIT_GAP_ONLY))
        code, out, err = run(path, "--fail-on-gaps")
        result = json.loads(out)
        self.assertEqual([c for c in result["controls"] if c["status"] == "gap"], [])
        self.assertIn("audit_gap", result["flags"])
        self.assertEqual(code, 1)
        self.assertIn("audit-gap (blocking flag audit_gap)", err)

    def test_one_failing_agent_among_several_fails_the_run_and_is_named(self):
        clean = self.write("clean.yaml", manifest("clean-one"))
        code, out, err = run(clean, str(EXAMPLE), "--fail-on-gaps")
        self.assertEqual(code, 1)
        self.assertEqual(len(json.loads(out)), 2)
        self.assertIn("1 of 2 agents failed: invoice-triage", err)
        self.assertNotIn("clean-one", err)


class InvalidManifestTests(FilesMixin, TestCase):
    def assertInvalid(self, path: str, *fragments: str, args: tuple[str, ...] = ()) -> str:
        code, out, err = run(path, *args)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "", "nothing is printed to stdout when a file is invalid")
        self.assertIn(f"error: {path}", err)
        for fragment in fragments:
            self.assertIn(fragment, err)
        return err

    def test_an_unknown_answer_key_names_the_key_and_the_allowed_keys(self):
        answers = {**CLEAN_ANSWERS, "decison_mode": "fixed_script"}
        err = self.assertInvalid(
            self.write("typo.yaml", manifest(answers=answers)),
            "answers.decison_mode: Unknown answer key 'decison_mode' (an unknown key is an "
            "error, not ignored); allowed keys: decision_mode, tool_selection,",
        )
        self.assertIn("admin_sessions_brokered.", err)

    def test_a_wrong_type_names_the_key_and_the_allowed_values(self):
        answers = {**CLEAN_ANSWERS, "alters_own_access": "no way"}
        self.assertInvalid(
            self.write("type.json", manifest(answers=answers)),
            "answers.alters_own_access: Answer 'alters_own_access' must be true or false, not "
            "the text 'no way'; allowed values: true, false.",
        )

    def test_a_value_outside_its_set_names_the_allowed_values(self):
        answers = {**CLEAN_ANSWERS, "network_reach": "everywhere"}
        self.assertInvalid(
            self.write("value.yaml", manifest(answers=answers)),
            "answers.network_reach: Answer 'network_reach' cannot be 'everywhere'; allowed "
            "values: isolated, allowlisted, internal_broad, internet.",
        )

    def test_a_bad_system_access_level_names_the_levels(self):
        answers = {**CLEAN_ANSWERS, "systems": [{"name": "erp", "access": "root"}]}
        self.assertInvalid(
            self.write("system.yaml", manifest(answers=answers)),
            "answers.systems:",
            "allowed values: read, write, admin.",
        )

    def test_malformed_yaml_names_the_line(self):
        self.assertInvalid(
            self.write("broken.yaml", "agent:\n  name: [unclosed\nanswers: {}\n"),
            "is not valid YAML:",
            "(line 3, column",
        )

    def test_malformed_json_names_the_line_and_column(self):
        self.assertInvalid(
            self.write("broken.json", '{"agent": {"name": "x", "slug": "x"},\n "answers": {,}}'),
            "is not valid JSON: Expecting property name enclosed in double quotes (line 2, "
            "column 14)",
        )

    def test_a_key_given_twice_is_an_error_in_yaml_and_json(self):
        self.assertInvalid(
            self.write(
                "twice.yaml",
                "agent: {name: X, slug: x}\nanswers:\n  alters_own_access: true\n"
                "  alters_own_access: false\n",
            ),
            "found the key 'alters_own_access' twice",
        )
        self.assertInvalid(
            self.write(
                "twice.json", '{"agent": {"name": "X", "slug": "x"}, "answers": {}, "answers": {}}'
            ),
            "the key 'answers' appears twice",
        )

    def test_a_missing_file_is_named(self):
        missing = str(self.dir / "nowhere.yaml")
        self.assertInvalid(missing, "cannot be read: there is no such file.")

    def test_a_directory_is_not_a_manifest(self):
        self.assertInvalid(str(self.dir), "it is a directory, not a file")

    def test_an_empty_file_is_an_error(self):
        self.assertInvalid(self.write("empty.yaml", "\n# nothing\n"), "is empty")

    def test_a_top_level_that_is_not_an_object_is_an_error(self):
        self.assertInvalid(
            self.write("scalar.yaml", "just some text\n"),
            "must hold a manifest object (or a list of them), not the text 'just some text'; "
            "allowed top-level keys: agent, answers.",
        )
        self.assertInvalid(
            self.write("numbers.json", "[1, 2]"),
            "[manifest 1]: a manifest must be an object with 'agent' and 'answers', not int 1",
            "[manifest 2]:",
        )

    def test_an_unknown_top_level_key_is_an_error(self):
        data = {**manifest(), "owner": "someone"}
        self.assertInvalid(
            self.write("top.yaml", data),
            "owner: unknown top-level key 'owner' (an unknown key is an error, not ignored); "
            "allowed keys: agent, answers.",
        )

    def test_an_unknown_agent_key_is_an_error(self):
        self.assertInvalid(
            self.write("agent.yaml", manifest(team="finance")),
            "agent.team: unknown agent key 'team' (an unknown key is an error, not ignored); "
            "allowed keys: name, slug, owner, sponsor, successors, description.",
        )

    def test_a_manifest_without_answers_is_an_error(self):
        self.assertInvalid(
            self.write("no-answers.yaml", {"agent": {"name": "X", "slug": "x"}}),
            "answers: the manifest has no 'answers'; allowed keys: agent, answers.",
        )

    def test_answers_that_are_not_an_object_are_an_error(self):
        self.assertInvalid(
            self.write(
                "list-answers.yaml", {"agent": {"name": "X", "slug": "x"}, "answers": ["a"]}
            ),
            "answers: 'answers' must be an object of answer keys and values, not a list.",
        )

    def test_the_agent_needs_a_slug_and_a_name_of_the_right_shape(self):
        cases = [
            ({"name": "X"}, "agent.slug: the agent needs a 'slug'."),
            ({"slug": "x"}, "agent.name: the agent needs a 'name'."),
            ({"name": "X", "slug": 12}, "agent.slug: must be non-empty text, not int 12."),
            ({"name": "X", "slug": "has spaces"}, "'has spaces' is not a slug"),
            ({"name": "X" * 201, "slug": "x"}, "agent.name: is 201 characters long; at most 200."),
        ]
        for number, (agent, message) in enumerate(cases):
            with self.subTest(agent=agent):
                path = self.write(f"agent-{number}.yaml", {"agent": agent, "answers": {}})
                self.assertInvalid(path, message)

    def test_an_agent_cannot_be_linked_to_itself(self):
        answers = {**CLEAN_ANSWERS, "orchestration": "peer_mesh", "linked_agents": ["ledger-sync"]}
        self.assertInvalid(
            self.write("self.yaml", manifest(answers=answers)),
            "answers.linked_agents: the agent 'ledger-sync' cannot be linked to itself.",
        )

    def test_a_bad_manifest_in_a_list_is_named_by_its_position(self):
        bad = manifest("second", {**CLEAN_ANSWERS, "decision_mode": "vibes"})
        path = self.write("fleet.yaml", [manifest("first"), bad])
        self.assertInvalid(path, f"{path} [manifest 2]: answers.decision_mode:")

    def test_every_bad_file_is_reported_and_nothing_is_assessed(self):
        good = self.write("good.yaml", manifest())
        bad_one = self.write("bad-one.yaml", manifest(team="x"))
        bad_two = self.write("bad-two.json", "{")
        code, out, err = run(good, bad_one, bad_two)
        self.assertEqual((code, out), (2, ""))
        self.assertIn(f"error: {bad_one}: agent.team:", err)
        self.assertIn(f"error: {bad_two}: is not valid JSON", err)
        self.assertNotIn(good, err)
        self.assertIn("2 of 3 files are invalid; nothing was assessed.", err)

    def test_a_large_file_is_refused_before_it_is_parsed(self):
        path = self.dir / "huge.yaml"
        path.write_bytes(b"#" * (1024 * 1024 + 1))
        self.assertInvalid(str(path), "is larger than 1024 KiB")

    def test_a_file_that_is_not_utf8_is_refused(self):
        path = self.dir / "latin1.yaml"
        path.write_bytes("agent: {name: Café, slug: x}\n".encode("latin-1"))
        self.assertInvalid(str(path), "is not UTF-8 text")

    def test_an_unreadable_database_stops_the_run_without_output(self):
        failure = OperationalError("no such table: assessments_catalogueversion")
        with mock.patch("assessments.workflow.decisions.current_catalogue", side_effect=failure):
            code, out, err = run(str(EXAMPLE))
        self.assertEqual((code, out), (2, ""))
        self.assertIn("The database cannot be read", err)
        self.assertIn("no such table: assessments_catalogueversion", err)

    def test_the_command_line_itself_is_checked(self):
        with self.assertRaises(CommandError):
            call_command("assess", stdout=StringIO(), stderr=StringIO())
        with self.assertRaisesMessage(CommandError, "invalid choice: 'xml'"):
            call_command("assess", str(EXAMPLE), "--format", "xml", stdout=StringIO())


class LinkedAgentTests(FilesMixin, TestCase):
    def setUp(self):
        super().setUp()
        self.answers = {
            **CLEAN_ANSWERS,
            "decision_mode": "context_driven",
            "orchestration": "orchestrated_by_agent",
            "systems": [{"name": "erp", "access": "write"}],
        }

    def test_a_slug_in_the_inventory_brings_its_systems_and_composite_escalation_fires(self):
        f.agent(slug="payments-agent", systems=[("bank-api", "admin"), ("erp", "read")])
        path = self.write(
            "linked.yaml", manifest(answers={**self.answers, "linked_agents": ["payments-agent"]})
        )
        code, out, err = run(path)
        self.assertEqual((code, err), (0, ""))
        result = json.loads(out)
        self.assertIn("composite_escalation", result["flags"])
        self.assertEqual(result["tier"], 4)
        self.assertIn(
            {"key": "linked_agents", "value": ["payments-agent: bank-api (admin)"]},
            result["evidence"]["composite_escalation"],
        )
        self.assertIn(
            {
                "id": "AIC-09",
                "title": "Composite-privilege review for multi-agent workflows",
                "status": "gap",
            },
            result["controls"],
        )

    def test_linked_agents_in_the_inventory_that_reach_nothing_more_do_not_escalate(self):
        f.agent(slug="reader", systems=[("erp", "read")])
        path = self.write(
            "linked.yaml", manifest(answers={**self.answers, "linked_agents": ["reader"]})
        )
        result = json.loads(run(path)[1])
        self.assertNotIn("composite_escalation", result["flags"])
        self.assertIn(
            {
                "id": "AIC-09",
                "title": "Composite-privilege review for multi-agent workflows",
                "status": "in_place",
            },
            result["controls"],
        )

    def test_an_unknown_slug_stays_bare_and_a_note_says_so(self):
        path = self.write(
            "linked.yaml", manifest(answers={**self.answers, "linked_agents": ["ghost-agent"]})
        )
        code, out, err = run(path)
        self.assertEqual(code, 0)
        result = json.loads(out)
        self.assertNotIn("composite_escalation", result["flags"])
        self.assertIn(
            {
                "id": "AIC-09",
                "title": "Composite-privilege review for multi-agent workflows",
                "status": "unknown",
            },
            result["controls"],
        )
        self.assertIn(
            f"note: {path}: linked agent 'ghost-agent' is not in the inventory; its systems are "
            "unknown, so composite escalation cannot be checked.",
            err,
        )

    def test_systems_declared_in_the_manifest_win_over_the_inventory(self):
        f.agent(slug="payments-agent", systems=[("bank-api", "admin")])
        declared = {"slug": "payments-agent", "systems": [{"name": "erp", "access": "read"}]}
        path = self.write(
            "linked.yaml", manifest(answers={**self.answers, "linked_agents": [declared]})
        )
        self.assertNotIn("composite_escalation", json.loads(run(path)[1])["flags"])

    def test_text_format_says_where_linked_systems_came_from(self):
        f.agent(slug="payments-agent", systems=[("bank-api", "admin")])
        answers = {**self.answers, "linked_agents": ["payments-agent", "ghost-agent"]}
        code, out, _ = run(self.write("linked.yaml", manifest(answers=answers)), "--format", "text")
        self.assertIn(
            "payments-agent (inventory: bank-api (admin)), ghost-agent (not in the inventory: "
            "systems unknown)",
            " ".join(out.split()),
        )

    def test_the_inventory_is_read_in_a_constant_number_of_queries(self):
        for n in range(6):
            f.agent(slug=f"member-{n}", systems=[(f"sys-{n}", "write"), ("erp", "read")])
        slugs = [f"member-{n}" for n in range(6)]
        files = [
            self.write(
                f"m{n}.yaml", manifest(f"agent-{n}", {**self.answers, "linked_agents": slugs})
            )
            for n in range(3)
        ]
        run(files[0])  # the compiled catalogue is cached per process: build it first
        with CaptureQueriesContext(connection) as few:
            run(files[0])
        with CaptureQueriesContext(connection) as many:
            run(*files)
        self.assertEqual(len(few.captured_queries), len(many.captured_queries))


class NothingWrittenTests(FilesMixin, TestCase):
    def test_assessing_writes_nothing_to_the_database(self):
        f.agent(slug="payments-agent", systems=[("bank-api", "admin")])
        linked = manifest(
            "linked",
            {**CLEAN_ANSWERS, "linked_agents": ["payments-agent"], "orchestration": "peer_mesh"},
        )
        files = [str(EXAMPLE), self.write("linked.yaml", linked), self.write("bad.yaml", "{")]
        counts = lambda: [  # noqa: E731
            m.objects.count() for m in (AuditEvent, Agent, System, Assessment, CatalogueVersion)
        ]
        before = counts()
        for args in (
            (files[0], files[1]),
            (files[0], "--format", "text"),
            (files[0], "--fail-on-gaps"),
            (files[2],),
        ):
            with self.subTest(args=args), CaptureQueriesContext(connection) as queries:
                run(*args)
            writes = [
                q["sql"]
                for q in queries.captured_queries
                if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
            ]
            self.assertEqual(writes, [])
        self.assertEqual(counts(), before)


class ManifestModuleTests(SimpleTestCase):
    """The pure parsing module, as the API will use it."""

    def test_parse_text_refuses_an_unknown_format(self):
        with self.assertRaisesMessage(ValueError, "allowed formats: json, yaml"):
            parse_text("{}", file="x", fmt="toml")

    def test_check_manifest_normalises_answers_and_keeps_bare_slugs_bare(self):
        result = check_manifest(
            {
                "agent": {"name": " Billing ", "slug": "billing"},
                "answers": {
                    "linked_agents": ["payments-agent"],
                    "systems": [{"name": " erp ", "access": "read"}],
                },
            },
            file="billing.yaml",
        )
        self.assertEqual(result.agent, {"name": "Billing", "slug": "billing"})
        self.assertEqual(result.answers["systems"], [{"name": "erp", "access": "read"}])
        self.assertEqual(result.bare_slugs, ("payments-agent",))

    def test_errors_carry_the_file_key_and_allowed_values_for_an_api_to_report(self):
        with self.assertRaises(ManifestError) as caught:
            check_manifest(
                {"agent": {"name": "X", "slug": "x"}, "answers": {"orchestration": "solo"}},
                file="api-request",
                position=3,
            )
        error = caught.exception
        self.assertEqual(
            (error.file, error.key, error.position), ("api-request", "answers.orchestration", 3)
        )
        self.assertTrue(str(error).startswith("api-request [manifest 3]: answers.orchestration: "))
        self.assertIn("allowed values: standalone, orchestrates_agents", str(error))

    def test_the_manifest_module_imports_no_django(self):
        code = (
            "import sys, assessments.interchange.manifest; "
            "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], "
            "sorted(m for m in sys.modules if m.startswith('django'))"
        )
        completed = subprocess.run(  # noqa: S603 (fixed command, our own interpreter)
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
        )
        self.assertEqual(completed.returncode, 0, completed.stderr)


class AssessProcessTests(SimpleTestCase):
    """The real process: exit statuses and stderr as a deployment pipeline sees them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{cls.tmp.name}/assess.sqlite3",
        }
        migrated = cls.manage("migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()
        super().tearDownClass()

    @classmethod
    def manage(cls, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 (fixed arguments)
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=cls.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def test_exit_status_0_1_and_2(self):
        ok = self.manage("assess", str(EXAMPLE))
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(json.loads(ok.stdout)["agent"]["slug"], "invoice-triage")

        gaps = self.manage("assess", str(EXAMPLE), "--fail-on-gaps")
        self.assertEqual(gaps.returncode, 1)
        self.assertIn("invoice-triage (gaps AIC-05, AIC-09; blocking flag audit_gap)", gaps.stderr)

        bad = Path(self.tmp.name) / "bad.yaml"
        bad.write_text("agent: {name: X, slug: x}\nanswers: {tool_selection: magic}\n")
        invalid = self.manage("assess", str(EXAMPLE), str(bad))
        self.assertEqual(invalid.returncode, 2)
        self.assertEqual(invalid.stdout, "")
        self.assertIn(
            f"error: {bad}: answers.tool_selection: Answer 'tool_selection' cannot be 'magic'; "
            "allowed values: none, fixed, chooses_from_allowlist, discovers_dynamically.",
            invalid.stderr,
        )

        missing = self.manage("assess", str(Path(self.tmp.name) / "absent.json"))
        self.assertEqual(missing.returncode, 2)
        self.assertIn("absent.json: cannot be read: there is no such file.", missing.stderr)
