"""Shared helpers for the evidence analyser tests: fixtures by name, proposals by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assessments import evidence

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "evidence"
ACCOUNT = "aws/account-authorization-details.json"
RBAC = "kubernetes/rbac.yaml"


def run(kind: str, *names: str, principal: str | None = None, **kwargs: Any) -> evidence.Analysis:
    files = [evidence.load_path(FIXTURES / name) for name in names]
    return evidence.analyse(kind, files, principal, **kwargs)


def proposal(analysis: evidence.Analysis, key: str) -> evidence.Proposal | None:
    found = [p for p in analysis.proposals if p.key == key]
    assert len(found) <= 1, f"more than one proposal for {key}"
    return found[0] if found else None


def role(name: str) -> str:
    return f"arn:aws:iam::123456789012:role/{name}"


def user(name: str) -> str:
    return f"arn:aws:iam::123456789012:user/{name}"


def says(p: evidence.Proposal) -> str:
    return "\n".join(f"{e.where}: {e.says}" for e in p.evidence)
