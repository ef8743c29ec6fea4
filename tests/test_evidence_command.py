"""Untrusted evidence files, ``manage.py analyse_evidence`` and ``assess --evidence``.

Bad files (invalid, unsafe, oversized) and unknown principals must end with exit
status 2 and a message naming the file or the principal, quickly and without
touching the database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from assessments.evidence import MAX_BYTES, EvidenceError, load_path, parse_bytes
from tests.evidence_helpers import ACCOUNT, FIXTURES, RBAC, role

ROOT = Path(__file__).resolve().parent.parent
PLANNER = role("agents/release-planner")


def analyse(*args: str) -> tuple[str, float]:
    out = StringIO()
    started = time.perf_counter()
    call_command("analyse_evidence", *args, stdout=out)
    return out.getvalue(), time.perf_counter() - started


def refused(*args: str) -> tuple[str, float]:
    started = time.perf_counter()
    with pytest.raises(CommandError) as caught:
        call_command("analyse_evidence", *args, stdout=StringIO())
    assert caught.value.returncode == 2
    return str(caught.value), time.perf_counter() - started


def fixture(name: str) -> str:
    return str(FIXTURES / name)


# --------------------------------------------------------------- output


def test_json_output_follows_the_contract():
    text, _ = analyse(fixture(ACCOUNT), "--kind", "aws", "--principal", PLANNER)
    data = json.loads(text)
    assert data["kind"] == "aws" and data["principal"] == PLANNER
    (file,) = data["files"]
    assert file["name"].endswith("account-authorization-details.json")
    assert len(file["sha256"]) == 64
    keys = [p["key"] for p in data["proposals"]]
    assert len(keys) == len(set(keys))  # at most one proposal per key
    first = data["proposals"][0]
    assert first == {
        "key": "alters_own_access",
        "value": True,
        "rule": "aws.self_policy_write",
        "evidence": [
            {
                "file": file["name"],
                "where": "RoleDetailList[0].RolePolicyList[0].Statement[1]",
                "says": first["evidence"][0]["says"],
            }
        ],
    }
    assert all(p["evidence"] for p in data["proposals"])


def test_text_output_explains_each_rule_in_a_sentence():
    text, _ = analyse(
        fixture(RBAC),
        "--kind",
        "kubernetes",
        "--principal",
        "system:serviceaccount:agents:binder",
        "--format",
        "text",
    )
    assert "During a run, can it widen its own access path? (alters_own_access): Yes" in text
    assert "may escalate or bind roles, or impersonate other identities" in text
    assert "bind on roles" in text


def test_mcp_needs_no_principal():
    text, _ = analyse(fixture("mcp/desktop-config.json"), "--kind", "mcp")
    assert json.loads(text)["principal"] is None


# --------------------------------------------------------------- refusals


def test_unknown_kind_is_refused():
    message, _ = refused(fixture(ACCOUNT), "--kind", "azure", "--principal", PLANNER)
    assert "azure" in message and "aws, kubernetes, gcp, mcp, entra" in message


def test_missing_principal_is_refused_for_aws():
    message, _ = refused(fixture(ACCOUNT), "--kind", "aws")
    assert "--principal" in message


def test_principal_not_in_the_files_is_refused_naming_it():
    ghost = role("agents/ghost")
    message, elapsed = refused(fixture(ACCOUNT), "--kind", "aws", "--principal", ghost)
    assert ghost in message and "account-authorization-details.json" in message
    assert elapsed < 1


def test_invalid_json_is_refused_naming_the_file(tmp_path):
    bad = tmp_path / "authz.json"
    bad.write_text('{"RoleDetailList": [}')
    message, _ = refused(str(bad), "--kind", "aws", "--principal", PLANNER)
    assert str(bad) in message and "invalid JSON" in message


def test_invalid_yaml_is_refused_naming_the_file():
    message, _ = refused(
        fixture("kubernetes/invalid.yaml"),
        "--kind",
        "kubernetes",
        "--principal",
        "system:serviceaccount:agents:reader",
    )
    assert "invalid.yaml" in message and "YAML" in message


def test_yaml_alias_bomb_is_refused_at_once():
    message, elapsed = refused(
        fixture("kubernetes/alias-bomb.yaml"),
        "--kind",
        "kubernetes",
        "--principal",
        "system:serviceaccount:agents:reader",
    )
    assert "alias-bomb.yaml" in message and "anchor" in message
    assert elapsed < 0.5


def test_yaml_aliases_are_refused_even_when_small():
    with pytest.raises(EvidenceError, match="small.yaml.*alias"):
        parse_bytes("small.yaml", b"base: &b {kind: Role}\ncopy: *b\n".replace(b"&b ", b""))
    with pytest.raises(EvidenceError, match="anchor"):
        parse_bytes("small.yaml", b"base: &b {kind: Role}\n")


def test_yaml_tags_are_refused():
    with pytest.raises(EvidenceError, match=r"tagged.yaml.*tag"):
        load_path(FIXTURES / "kubernetes" / "tagged.yaml")
    with pytest.raises(EvidenceError, match="tag"):
        parse_bytes("x.yaml", b"a: !!binary aGVsbG8=\n")


def test_a_50_mb_file_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "authz.json"
    with big.open("wb") as handle:
        handle.write(b'{"RoleDetailList": [' + b" " * (50 * 1024 * 1024) + b"]}")
    assert big.stat().st_size > MAX_BYTES
    message, elapsed = refused(str(big), "--kind", "aws", "--principal", PLANNER)
    assert str(big) in message and "MiB" in message
    assert elapsed < 0.5


def test_json_nested_too_deeply_is_refused():
    deep = b'{"a":' * 1100 + b"1" + b"}" * 1100
    with pytest.raises(EvidenceError, match="deep.json.*nested deeper than 1024"):
        parse_bytes("deep.json", deep)


def test_yaml_nested_too_deeply_is_refused():
    deep = b"[" * 100 + b"1" + b"]" * 100
    with pytest.raises(EvidenceError, match="deep.yaml.*nested deeper than 64"):
        parse_bytes("deep.yaml", deep)


def test_a_missing_file_is_refused_naming_it(tmp_path):
    message, _ = refused(str(tmp_path / "nope.json"), "--kind", "aws", "--principal", PLANNER)
    assert "nope.json" in message and "cannot be read" in message


def test_binary_and_empty_files_are_refused():
    with pytest.raises(EvidenceError, match="not UTF-8"):
        parse_bytes("key.der", b"\x30\x82\xff\xfe")
    with pytest.raises(EvidenceError, match="empty"):
        parse_bytes("empty.yaml", b"   \n")


def test_exit_status_and_stderr_as_a_pipeline_sees_them():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.test_settings"}
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "manage.py",
            "analyse_evidence",
            fixture("kubernetes/alias-bomb.yaml"),
            "--kind",
            "kubernetes",
            "--principal",
            "system:serviceaccount:agents:reader",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "alias-bomb.yaml" in done.stderr and done.stdout == ""


# --------------------------------------------------------------- assess --evidence


MANIFEST = """\
agent: {name: Release planner, slug: release-planner}
answers:
  decision_mode: context_driven
  shared_platform_role: true
"""


@pytest.mark.django_db
def test_assess_fills_silent_answers_from_evidence_and_says_which(tmp_path):
    manifest = tmp_path / "release-planner.yaml"
    manifest.write_text(MANIFEST)
    out = StringIO()
    call_command(
        "assess",
        str(manifest),
        "--evidence",
        fixture(ACCOUNT),
        "--kind",
        "aws",
        "--principal",
        PLANNER,
        stdout=out,
    )
    result = json.loads(out.getvalue())
    used = result["answers_from_evidence"]
    assert used["alters_own_access"]["value"] is True
    assert used["alters_own_access"]["rule"] == "aws.self_policy_write"
    assert "shared_platform_role" not in used  # the manifest answered it
    # The engine saw the answer: the signal is set and the key is no longer missing.
    assert result["signals"]["alters_own_access"] is True
    assert "alters_own_access" not in result["missing"]
    assert "systems" not in result["missing"]

    text = StringIO()
    call_command(
        "assess",
        str(manifest),
        "--evidence",
        fixture(ACCOUNT),
        "--kind",
        "aws",
        "--principal",
        PLANNER,
        "--format",
        "text",
        stdout=text,
    )
    words = " ".join(text.getvalue().split())
    assert "answers taken from evidence" in words
    assert "alters_own_access = yes (aws.self_policy_write)" in words


@pytest.mark.django_db
def test_assess_without_evidence_says_nothing_about_it(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    out = StringIO()
    call_command("assess", str(manifest), stdout=out)
    result = json.loads(out.getvalue())
    assert "answers_from_evidence" not in result
    assert result["signals"]["alters_own_access"] is False
    assert "alters_own_access" in result["missing"]


@pytest.mark.django_db
def test_assess_with_a_bad_evidence_file_exits_2(tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST)
    with pytest.raises(CommandError) as caught:
        call_command(
            "assess",
            str(manifest),
            "--evidence",
            fixture("kubernetes/alias-bomb.yaml"),
            "--kind",
            "kubernetes",
            "--principal",
            "system:serviceaccount:a:b",
            stdout=StringIO(),
        )
    assert caught.value.returncode == 2 and "alias-bomb.yaml" in str(caught.value)
