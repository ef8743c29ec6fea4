"""``manage.py analyse_evidence``: propose answers from an agent's access configuration.

Reads only the files given; writes nothing to the database; runs nothing and fetches
nothing named in them. The contract is ../shared/evidence.md.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments import engine, evidence
from assessments.presentation import display_value

EXIT_INVALID = 2
WIDTH = 100


def run_analysis(
    paths: list[str], kind: str, principal: str | None, namespace: str | None = None
) -> evidence.Analysis:
    """Load and analyse the files; CommandError (exit 2) naming the file or principal."""
    if kind not in evidence.KINDS:
        raise CommandError(
            f"Unknown kind {kind!r}; allowed kinds: {', '.join(evidence.KINDS)}.",
            returncode=EXIT_INVALID,
        )
    if kind in evidence.PRINCIPAL_REQUIRED and not (principal or "").strip():
        raise CommandError(f"--principal is required for --kind {kind}.", returncode=EXIT_INVALID)
    files = []
    for path in paths:
        try:
            files.append(evidence.load_path(path))
        except evidence.EvidenceError as exc:
            raise CommandError(f"{exc}; nothing was analysed.", returncode=EXIT_INVALID) from None
    try:
        return evidence.analyse(
            kind,
            files,
            principal,
            internal_domains=getattr(settings, "EVIDENCE_INTERNAL_DOMAINS", ()),
            namespace=namespace,
        )
    except (evidence.EvidenceError, evidence.PrincipalNotFound) as exc:
        raise CommandError(str(exc), returncode=EXIT_INVALID) from None


def describe(analysis: evidence.Analysis) -> str:
    """The analysis as a person reads it: each proposal, its rule's sentence, its lines."""
    lines = [f"{evidence.KIND_LABELS[analysis.kind]}"]
    if analysis.principal:
        lines.append(f"  Principal   {analysis.principal}")
    for file in analysis.files:
        lines.append(f"  File        {file.name}  sha256 {file.sha256}")
    if not analysis.proposals:
        lines.append("  Nothing in the files supports a proposed answer.")
    questions = {q.id: q for q in engine.load_questionnaire().questions}
    for proposal in analysis.proposals:
        lines.append("")
        question = questions.get(proposal.key)
        if question is None:
            lines.append(f"  {proposal.key}: {engine.format_value(proposal.value)}")
        else:
            lines.append(
                f"  {question.prompt} ({proposal.key}): {display_value(question, proposal.value)}"
            )
        lines.append(
            textwrap.fill(
                evidence.sentence(proposal.rule),
                WIDTH,
                initial_indent="    Why: ",
                subsequent_indent="         ",
            )
        )
        for item in proposal.evidence:
            lines.append(
                textwrap.fill(
                    f"{item.file} {item.where}: {item.says}",
                    WIDTH,
                    initial_indent="    - ",
                    subsequent_indent="      ",
                    break_on_hyphens=False,
                )
            )
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Propose assessment answers from an agent's real access configuration (AWS, "
        "Kubernetes, GCP, MCP or Entra files). Writes nothing to the database. Exit status: "
        "0 analysed; 2 when a file cannot be read or parsed, the kind is unknown, or the "
        "principal is not in the files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="Evidence files.")
        parser.add_argument("--kind", required=True, help=f"One of: {', '.join(evidence.KINDS)}.")
        parser.add_argument(
            "--principal",
            help="The identity to analyse: a role or user ARN, or a template's logical name or "
            "a plan's resource address (aws), "
            "system:serviceaccount:NS:NAME (kubernetes), serviceAccount:EMAIL (gcp), "
            "the app's name or id (entra, optional); not used for mcp.",
        )
        parser.add_argument(
            "--namespace",
            help="kubernetes: the namespace objects without one are applied to (kustomize "
            "bases, namespace-install.yaml); default: default, or the principal's own.",
        )
        parser.add_argument("--format", choices=("json", "text"), default="json")

    def handle(self, *args: Any, **options: Any) -> None:
        analysis = run_analysis(
            options["files"], options["kind"], options["principal"], options["namespace"]
        )
        if options["format"] == "text":
            self.stdout.write(describe(analysis))
        else:
            self.stdout.write(json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False))
