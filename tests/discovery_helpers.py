"""A stored discovery run and one of its identities, for the access tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assessments import discovery
from assessments.actions import discovery as discovery_actions
from assessments.models import DiscoveredIdentity

FIX = Path(__file__).parent / "fixtures" / "discovery"
ACCOUNT = FIX / "aws-account.json"
AGENT_ROLE = "arn:aws:iam::210987654321:role/agents/support-agent"


def discovery_fixture() -> tuple[Any, DiscoveredIdentity]:
    file, data = discovery.load_path(ACCOUNT)
    reading = discovery.read("aws", [file])
    run = discovery_actions.store_run(None, "aws", [(file.name, data)], [file])
    discovery_actions.reconcile(run, reading, [(file.name, data)])
    return run, DiscoveredIdentity.objects.get(external_id=AGENT_ROLE)
