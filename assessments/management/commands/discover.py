"""``manage.py discover``: list every workload identity of account-wide exports.

Reads the files (nothing in them is run or fetched), says which identities behave like
agents and why, compares them with the previous run of the same source and, unless
``--dry-run``, stores the run and opens the reviews it calls for. Exit 2, with the
file named and nothing stored, when a file cannot be read or is not of the kind. The
contract is ../shared/discovery.md.
"""

from __future__ import annotations

import textwrap
from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments import discovery
from assessments.actions import discovery as discovery_actions
from assessments.models import Agent, DiscoveredIdentity

EXIT_INVALID = 2
WIDTH = 100


def _fail(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_INVALID)


class Command(BaseCommand):
    # The system checks import every URL configuration (the API's and SCIM's schemas):
    # seconds of CPU in a command that a CI job runs on a schedule against large files.
    # They run with ``manage.py check --deploy`` and the other commands.
    requires_system_checks: list[str] = []
    help = (
        "Read account-wide exports (AWS, Kubernetes, Google Cloud, Entra ID), list every "
        "workload identity with the signals that make it look like an agent, and reconcile "
        "them with the previous run of the same source and with the inventory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--kind", required=True, help=f"One of: {', '.join(discovery.KINDS)}.")
        parser.add_argument(
            "--source",
            default="",
            help="The cluster's name (required for kubernetes); the account, project or "
            "tenant id otherwise comes from the files.",
        )
        parser.add_argument("--format", choices=("text", "json"), default="text")
        parser.add_argument(
            "--dry-run", action="store_true", help="Read and compare, store nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = options["kind"]
        if kind not in discovery.KINDS:
            raise _fail(f"Unknown kind {kind!r}; allowed kinds: {', '.join(discovery.KINDS)}.")
        source = options["source"].strip()
        if kind in discovery.SOURCE_REQUIRED and not source:
            raise _fail(f"--source (the cluster's name) is required for --kind {kind}.")
        parsed, raw = [], []
        for path in options["files"]:
            try:
                file, data = discovery.load_path(path)
            except discovery.DiscoveryError as error:
                raise _fail(f"{error}; nothing was stored.") from None
            parsed.append(file)
            raw.append((file.name, data))
        try:
            reading = discovery.read(kind, parsed, source or None)
        except discovery.DiscoveryError as error:
            raise _fail(f"{error}; nothing was stored.") from None

        if options["dry_run"]:
            changes = discovery_actions.plan(reading)
            statuses = changes.statuses
            counts = changes.counts(reading)
            stored = {eid: (i.status, i.agent_id, i.triage) for eid, i in changes.previous.items()}
            vanished = [i.external_id for i in changes.vanished]
        else:
            run = discovery_actions.store_run(None, kind, raw, parsed, source=source)
            discovery_actions.reconcile(run, reading, raw)
            counts = run.counts
            statuses = {}
            # Only the columns printed: not 10,000 rows of signals read back as models.
            stored, vanished = {}, []
            for eid, status, linked, triage, last_run_id in DiscoveredIdentity.objects.filter(
                kind=kind, source=reading.source
            ).values_list("external_id", "status", "agent_id", "triage", "last_run_id"):
                stored[eid] = (status, linked, triage)
                if status == DiscoveredIdentity.Status.VANISHED and last_run_id == run.pk:
                    vanished.append(eid)
        links = discovery_actions._links(kind)
        agent_ids = {linked for _s, linked, _t in stored.values() if linked}
        slugs = dict(
            Agent.objects.filter(pk__in=agent_ids | set(links.values())).values_list("pk", "slug")
        )
        rows = []
        for identity in reading.identities:
            status, known_agent, triage = stored.get(identity.external_id) or ("new", None, "")
            agent_id = known_agent or links.get(identity.external_id)
            rows.append(
                {
                    "external_id": identity.external_id,
                    "name": identity.name,
                    "type": identity.type,
                    "last_used": identity.last_used.isoformat() if identity.last_used else None,
                    "last_used_from": identity.last_used_from,
                    "owner_hint": identity.owner_hint,
                    "agent_like": identity.agent_like,
                    "signals": identity.signals_list(),
                    "status": statuses.get(identity.external_id) or status,
                    "linked_agent": slugs.get(agent_id) if agent_id else None,
                    "triage": triage,
                }
            )
        payload = {
            "source": reading.source,
            "kind": kind,
            "dry_run": options["dry_run"],
            "files": [{"name": f.name, "sha256": f.sha256} for f in parsed],
            "counts": counts,
            "identities": rows,
            "vanished": sorted(vanished),
        }
        if options["format"] == "json":
            # orjson: the same JSON (two-space indent, UTF-8) in a tenth of json's time for
            # 10,000 identities.
            self.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
            return
        self.stdout.write(self._text(payload))

    def _text(self, payload: dict[str, Any]) -> str:
        counts = payload["counts"]
        lines = [
            f"{discovery.KIND_LABELS[payload['kind']]}: {payload['source']}"
            + ("  (dry run: nothing stored)" if payload["dry_run"] else ""),
        ]
        for file in payload["files"]:
            lines.append(f"  File  {file['name']}  sha256 {file['sha256']}")
        lines.append(
            f"  {counts['identities']} identities: {counts['likely']} likely agents, "
            f"{counts['possible']} possibly agents; {counts['new']} new, {counts['changed']} "
            f"changed, {counts['unchanged']} unchanged, {counts['vanished']} no longer found."
        )
        order = {"likely": 0, "possible": 1, "no": 2}
        for row in sorted(
            payload["identities"], key=lambda r: (order[r["agent_like"]], r["external_id"])
        ):
            if row["agent_like"] == "no":
                continue
            lines.append("")
            lines.append(
                f"  {discovery.AGENT_LIKE_LABELS[row['agent_like']]}: {row['external_id']} "
                f"({row['status']}{', agent ' + row['linked_agent'] if row['linked_agent'] else ''})"
            )
            for signal in row["signals"]:
                lines.append(f"    {discovery.SIGNAL_LABELS[signal['signal']]}:")
                for item in signal["evidence"][:5]:
                    lines.append(
                        textwrap.fill(
                            f"{item['file']} {item['where']}: {item['says']}",
                            WIDTH,
                            initial_indent="      - ",
                            subsequent_indent="        ",
                        )
                    )
        others = sum(1 for r in payload["identities"] if r["agent_like"] == "no")
        lines.append("")
        lines.append(f"  {others} other identities do not behave like agents.")
        for eid in payload["vanished"]:
            lines.append(f"  No longer found: {eid}")
        return "\n".join(lines) + "\n"
