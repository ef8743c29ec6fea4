"""``manage.py assess``: classify agents from manifest files, for a deployment pipeline.

Reads nothing but the files, the current catalogue, the review intervals and (for
linked agents named by slug) the inventory; writes nothing to the database.

With ``--push URL --token T`` the manifests go to a server's API instead
(``POST /api/v1/manifests``): the server files each agent and its draft (and with
``--submit`` hands it to a reviewer), so a pipeline can keep the inventory in git.
Push mode needs no local database: the files are checked here, the decision is the
server's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from assessments import engine, evidence
from assessments.interchange.manifest import (
    Manifest,
    ManifestError,
    ManifestErrors,
    load_files,
    parse_text,
    read_text,
    resolve_linked_agents,
)
from assessments.management.commands.analyse_evidence import run_analysis
from assessments.models import review_intervals
from assessments.presentation import headline
from assessments.workflow import decisions

EXIT_GAPS = 1
EXIT_INVALID = 2
EXIT_REFUSED = 3
PUSH_ENV_VARIABLE = "ASSESSOR_API_TOKEN"
PUSH_TIMEOUT = 60
STATUS_LABELS = {"gap": "gap", "in_place": "in place", "unknown": "unknown"}
STATUS_ORDER = {"gap": 0, "unknown": 1, "in_place": 2}
WIDTH = 100


class Command(BaseCommand):
    help = (
        "Assess agents from manifest files (YAML or JSON; one manifest object per file, or a "
        "list of them) and print the engine's result. Writes nothing to the database. Exit "
        "status: 0 assessed; 1 with --fail-on-gaps when a control is a gap or a blocking flag "
        "fired; 2 when a file cannot be read or is invalid; 3 when --push was refused by the "
        "server (or it could not be reached)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="Manifest files.")
        parser.add_argument(
            "--format",
            choices=("json", "text"),
            default="json",
            help="json (default): the engine's result, one object per manifest; "
            "text: a readable summary.",
        )
        parser.add_argument(
            "--evidence",
            action="append",
            metavar="FILE",
            help="An evidence file (repeatable), analysed as by analyse_evidence; its proposed "
            "answers fill the keys each manifest leaves out, and the result says which.",
        )
        parser.add_argument(
            "--kind", help=f"The evidence files' kind: {', '.join(evidence.KINDS)}."
        )
        parser.add_argument("--principal", help="The identity the evidence is about.")
        parser.add_argument(
            "--namespace", help="kubernetes evidence: the namespace of objects without one."
        )
        parser.add_argument(
            "--fail-on-gaps",
            action="store_true",
            help="Exit with status 1 when any control is a gap or a blocking flag fired.",
        )
        parser.add_argument(
            "--push",
            metavar="URL",
            help="Send the manifests to the server at URL (e.g. https://assessor.example.com): "
            "it creates or updates each agent and fills in its draft assessment.",
        )
        parser.add_argument(
            "--token",
            metavar="T",
            help=f"API token for --push (with the write scope); defaults to ${PUSH_ENV_VARIABLE}.",
        )
        parser.add_argument(
            "--submit", action="store_true", help="With --push: also submit each assessment."
        )
        parser.add_argument(
            "--team", metavar="SLUG", default="", help="With --push: the team of new agents."
        )

    _evidence: dict[tuple[str, int | None], dict[str, evidence.Proposal]]

    def handle(self, *args: Any, **options: Any) -> None:
        self._evidence = {}
        paths: list[str] = options["files"]
        # Every file is checked before anything is assessed or printed.
        try:
            files = load_files(paths)
        except ManifestErrors as exc:
            for error in exc.errors:
                self.stderr.write(f"error: {error}")
            bad = len({e.file for e in exc.errors})
            raise CommandError(
                f"{bad} of {len(paths)} file{'s' if len(paths) != 1 else ''} "
                f"{'is' if bad == 1 else 'are'} invalid; nothing was assessed.",
                returncode=EXIT_INVALID,
            ) from None

        if options["push"]:
            self._push(files, options)
            return

        manifests = [m for f in files for m in f.manifests]
        # (file, position) -> the answers each manifest took from evidence
        from_evidence: dict[tuple[str, int | None], dict[str, evidence.Proposal]] = {}
        if options["evidence"]:
            if not options["kind"]:
                raise CommandError("--evidence needs --kind.", returncode=EXIT_INVALID)
            analysis = run_analysis(
                options["evidence"], options["kind"], options["principal"], options["namespace"]
            )
            merged = []
            for manifest in manifests:
                manifest, used = _merge_evidence(manifest, analysis)
                from_evidence[(manifest.file, manifest.position)] = used
                merged.append(manifest)
            manifests = merged
        self._evidence = from_evidence
        try:
            manifests = resolve_linked_agents(manifests, decisions.systems_by_slug)
            catalogue = _catalogue()
            intervals = review_intervals()
        except ManifestError as exc:
            raise CommandError(str(exc), returncode=EXIT_INVALID) from None
        except DatabaseError as exc:
            raise CommandError(
                f"The database cannot be read, so the catalogue and the inventory are "
                f"unavailable ({exc}). Check DATABASE_URL and run migrate; nothing was "
                "assessed.",
                returncode=EXIT_INVALID,
            ) from None

        results = [
            (m, engine.evaluate(m.answers, review_intervals=intervals, catalogue=catalogue))
            for m in manifests
        ]
        for manifest in manifests:
            for slug in manifest.not_in_inventory:
                self.stderr.write(
                    f"note: {_where(manifest)}: linked agent {slug!r} is not in the inventory; "
                    "its systems are unknown, so composite escalation cannot be checked."
                )

        single = len(files) == 1 and not files[0].is_list
        if options["format"] == "text":
            self.stdout.write("\n\n".join(self._text(m, r) for m, r in results))
        else:
            payload = [
                _as_json(m, r, from_evidence.get((m.file, m.position), {})) for m, r in results
            ]
            self.stdout.write(json.dumps(payload[0] if single else payload, indent=2))

        if options["fail_on_gaps"]:
            failing = [
                f"{m.agent['slug']} ({_reasons(r)})"
                for m, r in results
                if r.gaps or r.blocking_flags
            ]
            if failing:
                raise CommandError(
                    f"--fail-on-gaps: {len(failing)} of {len(results)} "
                    f"agent{'s' if len(results) != 1 else ''} failed: {'; '.join(failing)}.",
                    returncode=EXIT_GAPS,
                )

    # ------------------------------------------------------------------ push

    def _push(self, files: list[Any], options: dict[str, Any]) -> None:
        token = options["token"] or os.environ.get(PUSH_ENV_VARIABLE, "")
        if not token:
            raise CommandError(
                f"--push needs an API token: pass --token or set {PUSH_ENV_VARIABLE}.",
                returncode=EXIT_INVALID,
            )
        base = options["push"].rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise CommandError(
                "--push takes the server's http:// or https:// address.", returncode=EXIT_INVALID
            )
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        query = urllib.parse.urlencode(
            {"submit": "true" if options["submit"] else "false", "team": options["team"]}
        )
        results, refused = [], []
        for file in files:
            # The files were checked above; send each manifest as written.
            data = parse_text(read_text(file.file), file=file.file)
            for number, raw in enumerate(data if isinstance(data, list) else [data], start=1):
                where = file.file if not file.is_list else f"{file.file} [manifest {number}]"
                status, body = _post_json(f"{base}/manifests?{query}", raw, token)
                if status == 200:
                    results.append(body)
                    assessment = body.get("assessment") or {}
                    self.stderr.write(
                        f"pushed {where}: {body['agent']} "
                        f"{'updated' if body['exists'] else 'created'}, assessment "
                        f"v{assessment.get('number')} {assessment.get('status')}."
                    )
                    for note in body.get("notes", []):
                        self.stderr.write(f"note: {where}: {note}")
                else:
                    refused.append(where)
                    self.stderr.write(f"refused: {where}: {_problem_text(status, body)}")
        if options["format"] == "json":
            self.stdout.write(json.dumps(results, indent=2))
        if refused:
            raise CommandError(
                f"The server refused {len(refused)} of {len(refused) + len(results)} "
                f"manifest{'s' if len(refused) + len(results) != 1 else ''}; each refused "
                "one changed nothing.",
                returncode=EXIT_REFUSED,
            )
        if options["fail_on_gaps"]:
            failing = [
                body["agent"]
                for body in results
                if any(c["status"] == "gap" for c in body["decision"].get("controls", []))
                or set(body["decision"].get("flags", [])) & set(engine.BLOCKING_FLAGS)
            ]
            if failing:
                raise CommandError(
                    f"--fail-on-gaps: {len(failing)} of {len(results)} failed: "
                    f"{', '.join(failing)}.",
                    returncode=EXIT_GAPS,
                )

    # ------------------------------------------------------------------ text format

    def _text(self, manifest: Manifest, result: engine.Result) -> str:
        style = self.style
        agent = manifest.agent
        head = headline(result, manifest.answers)
        lines = [
            style.MIGRATE_HEADING(f"{agent['name']} ({agent['slug']})") + f"  · {_where(manifest)}",
            _row("Class", head.title if head.decided else style.WARNING(head.title)),
        ]
        if head.leaning:
            lines.append(_row("", head.leaning))
        lines += [
            _row("Tier", f"{head.tier}, review every {result.review_interval_days} days"),
            _row("Meaning", head.meaning),
        ]
        for number, (name, value) in enumerate(result.signals.items()):
            label = "Signals" if number == 0 else ""
            lines.append(
                _row(label, f"{engine.SIGNAL_TITLES.get(name, name).lower()}: {_signal(value)}")
            )
        if result.flags:
            flags = ", ".join(
                style.ERROR(f"{flag} (blocking)") if flag in engine.BLOCKING_FLAGS else flag
                for flag in result.flags
            )
            lines.append(_row("Flags", flags))
        else:
            lines.append(_row("Flags", "none"))
        if manifest.answers.get("linked_agents"):
            lines.append(_row("Linked", _linked(manifest)))
        lines.append("  Why")
        for number, sentence in enumerate(result.rationale, start=1):
            lines.append(
                textwrap.fill(
                    sentence,
                    WIDTH,
                    initial_indent=f"    {number}. ",
                    subsequent_indent=" " * (6 + len(str(number))),
                    break_on_hyphens=False,
                )
            )
        counts = {s: sum(1 for c in result.controls if c["status"] == s) for s in STATUS_ORDER}
        lines.append(
            f"  Controls    {counts['gap']} gap{'s' if counts['gap'] != 1 else ''}, "
            f"{counts['in_place']} in place, {counts['unknown']} unknown"
        )
        for control in sorted(result.controls, key=lambda c: STATUS_ORDER[c["status"]]):
            status = STATUS_LABELS[control["status"]]
            label = f"{status:<9}"
            if control["status"] == "gap":
                label = style.ERROR(label)
            elif control["status"] == "in_place":
                label = style.SUCCESS(label)
            lines.append(f"    {label} {control['id']:<7} {control['title']}")
        if result.provisional:
            lines.append(
                _row(
                    "Provisional",
                    "yes; could still change the class: "
                    + (", ".join(result.unanswered) or "none")
                    + "; missing: "
                    + ", ".join(result.missing),
                )
            )
        else:
            lines.append(_row("Provisional", "no"))
        lines.append(_row("Catalogue", result.catalogue_version))
        used = self._evidence.get((manifest.file, manifest.position), {})
        if used:
            lines.append(
                _row(
                    "Evidence",
                    "answers taken from evidence (the manifest was silent): "
                    + "; ".join(
                        f"{key} = {engine.format_value(p.value)} ({p.rule})"
                        for key, p in used.items()
                    ),
                )
            )
        return "\n".join(lines)


def _catalogue() -> engine.Catalogue:
    """The current catalogue version from the database; the bundled one when none is."""
    try:
        version = decisions.current_catalogue()
    except LookupError:
        return engine.load_catalogue()
    return decisions.engine_catalogue(version)


def _where(manifest: Manifest) -> str:
    if manifest.position is None:
        return manifest.file
    return f"{manifest.file} [manifest {manifest.position}]"


def _as_json(
    manifest: Manifest, result: engine.Result, used: dict[str, evidence.Proposal]
) -> dict[str, Any]:
    payload = {
        "file": manifest.file,
        "agent": {"slug": manifest.agent["slug"], "name": manifest.agent["name"]},
        **result.to_dict(),
    }
    if used:
        payload["answers_from_evidence"] = {
            key: {
                "value": p.value,
                "rule": p.rule,
                "evidence": [e.to_dict() for e in p.evidence],
            }
            for key, p in used.items()
        }
    return payload


def _merge_evidence(
    manifest: Manifest, analysis: evidence.Analysis
) -> tuple[Manifest, dict[str, evidence.Proposal]]:
    """The manifest with proposals filling the keys it leaves out, and those proposals."""
    used = {p.key: p for p in analysis.proposals if manifest.answers.get(p.key) is None}
    if not used:
        return manifest, {}
    answers = engine.validate_answers(
        {**manifest.answers, **{key: p.value for key, p in used.items()}}
    )
    return dataclasses.replace(manifest, answers=answers), used


def _reasons(result: engine.Result) -> str:
    parts = []
    if result.gaps:
        parts.append(f"gap{'s' if len(result.gaps) > 1 else ''} {', '.join(result.gaps)}")
    if result.blocking_flags:
        parts.append(f"blocking flag {', '.join(result.blocking_flags)}")
    return "; ".join(parts)


def _signal(value: bool | str) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _row(label: str, value: str) -> str:
    return textwrap.fill(value, WIDTH, initial_indent=f"  {label:<12}", subsequent_indent=" " * 14)


def _linked(manifest: Manifest) -> str:
    parts = []
    for linked in manifest.answers["linked_agents"]:
        slug = linked["slug"]
        if slug in manifest.not_in_inventory:
            parts.append(f"{slug} (not in the inventory: systems unknown)")
            continue
        source = "inventory" if slug in manifest.found_in_inventory else "manifest"
        systems = engine.format_value(linked["systems"])
        parts.append(f"{slug} ({source}: {systems})")
    return ", ".join(parts)


def _post_json(url: str, payload: Any, token: str) -> tuple[int, Any]:
    """POST JSON; (status, parsed body). A server that cannot be reached is status 0."""
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked to be http(s))
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, application/problem+json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=PUSH_TIMEOUT) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        return 0, {"detail": f"the server cannot be reached ({getattr(error, 'reason', error)})"}


def _problem_text(status: int, body: Any) -> str:
    if not isinstance(body, dict):
        return f"HTTP {status}"
    text = str(body.get("detail") or body.get("title") or f"HTTP {status}")
    for error in body.get("errors") or []:
        where = error.get("key") or error.get("location")
        text += f" [{where}: {error.get('message')}]" if where else f" [{error.get('message')}]"
    return f"{text} (HTTP {status})" if status else text
