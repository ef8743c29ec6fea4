"""``manage.py report assessment SLUG``, ``manage.py report board`` and ``manage.py report
oscal {results,board,poam}``: PDFs and OSCAL files for scheduled distribution, recorded
like the ones downloaded from the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from assessments import actions
from assessments.models import Assessment, Team
from assessments.reports.board import TIER_LABELS, BoardFilters, FilterError
from assessments.reports.glyphs import MissingGlyphError
from assessments.workflow import reviews


class Command(BaseCommand):
    help = (
        "Write a PDF report and record it so it can be verified later. "
        "'report assessment SLUG [--version N]' writes an assessment's report (the latest "
        "approved version by default; an approved report is the same file every time). "
        "'report board [--team T] [--tier N] [--classification C] [--since D] [--until D]' "
        "writes a board pack of the portfolio. "
        "'report oscal results SLUG [--version N]' writes an assessment's OSCAL assessment "
        "results (JSON); 'report oscal board [--team T] [--tier N] [--classification C]' "
        "those of a board pack's scope; 'report oscal poam [--team T]' a plan of action "
        "and milestones of the portfolio or a team."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        kinds = parser.add_subparsers(
            dest="kind", required=True, metavar="{assessment,board,oscal}"
        )
        one = kinds.add_parser("assessment", help="The report of one assessment.")
        one.add_argument("slug", help="The agent's slug.")
        one.add_argument(
            "--version",
            type=int,
            help="Assessment version; default: the latest approved one, else the latest.",
        )
        board = kinds.add_parser("board", help="The board pack of the whole portfolio.")
        board.add_argument("--team", default="", help="Only this team (its slug).")
        board.add_argument("--tier", type=int, choices=sorted(TIER_LABELS), help="Only this tier.")
        board.add_argument(
            "--classification",
            choices=["agent_identity", "machine_identity", "unassessed"],
            help="Only this class.",
        )
        board.add_argument(
            "--since", default="", help="Period start (YYYY-MM-DD); default 90 days ago."
        )
        board.add_argument("--until", default="", help="Period end (YYYY-MM-DD); default today.")
        board.add_argument(
            "--top",
            type=int,
            default=None,
            help="Agents in the printed appendix (the most at risk); default 25. Every agent "
            "is in the attached register.",
        )
        board.add_argument("--prepared-by", default="", help="Sign-off block: prepared by.")
        board.add_argument("--reviewed-by", default="", help="Sign-off block: reviewed by.")
        board.add_argument("--meeting-date", default="", help="Sign-off block (YYYY-MM-DD).")
        board.add_argument("--decision", default="", help="Sign-off block: resolution recorded.")
        board.add_argument("--chair", default="", help="Sign-off block: the chair.")
        board.add_argument("--attendees", default="", help="Sign-off block: names, by commas.")
        board.add_argument("--commentary", default="", help="Management's commentary.")
        sign = kinds.add_parser(
            "signoff",
            help="Record that a board signed off a pack (it becomes the next pack's baseline).",
        )
        sign.add_argument("document_id", help="The pack's document id (AIA-BP-…).")
        sign.add_argument("--chair", required=True)
        sign.add_argument("--attendees", default="", help="Names, separated by commas.")
        sign.add_argument("--resolution", required=True, help="The resolution the board passed.")
        sign.add_argument("--meeting-date", required=True, help="YYYY-MM-DD.")
        sign.add_argument(
            "--user",
            required=True,
            help="Who records the sign-off: a reviewer or an administrator (the board's "
            "secretary holds one of these roles).",
        )
        oscal = kinds.add_parser("oscal", help="OSCAL 1.2 files (JSON) for GRC platforms.")
        oscal_kinds = oscal.add_subparsers(
            dest="oscal_kind", required=True, metavar="{results,board,poam}"
        )
        results = oscal_kinds.add_parser("results", help="One assessment's results.")
        results.add_argument("slug", help="The agent's slug.")
        results.add_argument(
            "--version",
            type=int,
            help="Assessment version; default: the latest approved one, else the latest.",
        )
        oscal_board = oscal_kinds.add_parser(
            "board", help="Results of every agent a board pack with these filters covers."
        )
        oscal_board.add_argument("--team", default="", help="Only this team (its slug).")
        oscal_board.add_argument(
            "--tier", type=int, choices=sorted(TIER_LABELS), help="Only this tier."
        )
        oscal_board.add_argument(
            "--classification",
            choices=["agent_identity", "machine_identity", "unassessed"],
            help="Only this class.",
        )
        poam = oscal_kinds.add_parser("poam", help="Plan of action and milestones.")
        poam.add_argument("--team", default="", help="Only this team (its slug).")
        for sub in (results, oscal_board, poam):
            sub.add_argument("--output", "-o", required=True, help="Where to write the JSON.")
            sub.add_argument(
                "--user",
                required=True,
                help="Who makes the export: a person's or a service account's username.",
            )
            sub.add_argument(
                "--dry-run", action="store_true", help="Say what would be written; write nothing."
            )
        for sub in (one, board):
            sub.add_argument("--output", "-o", required=True, help="Where to write the PDF.")
            sub.add_argument(
                "--user",
                required=True,
                help="Who makes the report: the username of the person, or of the service "
                "account a schedule runs as. It is the report's author and is recorded.",
            )
            sub.add_argument(
                "--dry-run", action="store_true", help="Say what would be written; write nothing."
            )

    def handle(
        self,
        *args: Any,
        kind: str,
        user: str,
        output: str = "",
        dry_run: bool = False,
        **options: Any,
    ) -> None:
        if kind == "signoff":
            self._signoff(user, **options)
            return
        target = Path(output)
        if not target.parent.exists():
            raise CommandError(f"The folder {target.parent} does not exist.")
        author = (
            get_user_model()
            .objects.filter(**{get_user_model().USERNAME_FIELD: user}, is_active=True)
            .first()
        )
        if author is None:
            raise CommandError(
                f"No active user or service account “{user}”: name who makes this report."
            )
        if kind == "oscal":
            self._oscal(options["oscal_kind"], target, dry_run, options, author)
            return
        if kind == "assessment":
            assessment = self._assessment(options["slug"], options.get("version"))
            if dry_run:
                self.stdout.write(
                    f"Would write the report of {assessment} ({assessment.status}) to {target}."
                )
                return
            try:
                issued = actions.issue_assessment_report(author, assessment)
            except MissingGlyphError as error:
                raise CommandError(str(error)) from error
            overdue = reviews.overdue_decision(assessment, timezone.localdate())
        else:
            overdue = None
            params = {
                "team": options["team"],
                "tier": options.get("tier"),
                "classification": options.get("classification") or "",
                "since": options["since"],
                "until": options["until"],
                "top": options.get("top"),
                "prepared_by": options["prepared_by"],
                "reviewed_by": options["reviewed_by"],
                "meeting_date": options["meeting_date"],
                "decision": options["decision"],
                "chair": options["chair"],
                "attendees": options["attendees"],
                "commentary": options["commentary"],
            }
            try:
                filters = BoardFilters.from_params(params)
            except FilterError as error:
                raise CommandError(str(error)) from error
            if dry_run:
                scope = ", ".join(filters.describe()) or "all active agents"
                self.stdout.write(
                    f"Would write a board pack of {scope} ({filters.agents().count()} agents, "
                    f"period {filters.since} to {filters.until}) to {target}."
                )
                return
            try:
                issued = actions.issue_board_pack(author, filters.to_params())
            except MissingGlyphError as error:
                raise CommandError(str(error)) from error
        target.write_bytes(issued.pdf)
        record = issued.record
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {target} ({record.pages} pages): {record.document_id}, "
                f"SHA-256 {record.file_sha256}"
            )
        )
        if overdue:
            self.stdout.write(self.style.WARNING(overdue.sentence))

    def _oscal(
        self, which: str, target: Path, dry_run: bool, options: dict[str, Any], author: Any
    ) -> None:
        if which == "results":
            assessment = self._assessment(options["slug"], options.get("version"))
            if dry_run:
                self.stdout.write(
                    f"Would write the OSCAL assessment results of {assessment} "
                    f"({assessment.status}) to {target}."
                )
                return
            issued = actions.issue_oscal_results(author, assessment)
        elif which == "board":
            params = {
                "team": options["team"],
                "tier": options.get("tier"),
                "classification": options.get("classification") or "",
            }
            try:
                filters = BoardFilters.from_params(params)
            except FilterError as error:
                raise CommandError(str(error)) from error
            if dry_run:
                scope = ", ".join(filters.describe()) or "all active agents"
                self.stdout.write(
                    f"Would write the OSCAL assessment results of {scope} "
                    f"({filters.agents().count()} agents) to {target}."
                )
                return
            try:
                issued = actions.issue_oscal_board_results(author, filters.to_params())
            except actions.NothingToExport as error:
                raise CommandError(str(error)) from error
        else:
            team = None
            if options["team"]:
                team = Team.objects.filter(slug=options["team"]).first()
                if team is None:
                    raise CommandError(f"There is no team “{options['team']}”.")
            if dry_run:
                self.stdout.write(
                    "Would write the OSCAL plan of action and milestones of "
                    f"{'team ' + team.name if team else 'all active agents'} to {target}."
                )
                return
            try:
                issued = actions.issue_oscal_poam(author, team=team)
            except actions.NothingToExport as error:
                raise CommandError(str(error)) from error
        target.write_bytes(issued.pdf)
        record = issued.record
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {target}: {record.document_id}, SHA-256 {record.file_sha256}, "
                f"content fingerprint {record.content_sha256}"
            )
        )

    def _signoff(self, user: str, **options: Any) -> None:
        import datetime as dt

        from assessments.actions.errors import ActionError
        from assessments.models import ReportRecord

        actor = get_user_model().objects.filter(username=user, is_active=True).first()
        if actor is None:
            raise CommandError(f"No active user or service account “{user}”.")
        record = ReportRecord.objects.filter(document_id=options["document_id"]).first()
        if record is None:
            raise CommandError(f"No report {options['document_id']}.")
        try:
            day = dt.date.fromisoformat(options["meeting_date"])
        except ValueError as error:
            raise CommandError("Dates must be written as YYYY-MM-DD.") from error
        try:
            actions.record_board_signoff(
                actor,
                record,
                chair=options["chair"],
                attendees=options["attendees"],
                resolution=options["resolution"],
                meeting_date=day,
            )
        except (ActionError, PermissionDenied) as error:  # a role or team that may not
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Recorded the sign-off of {record.document_id}."))

    def _assessment(self, slug: str, version: int | None) -> Assessment:
        versions = Assessment.objects.select_related(
            "agent__owner", "agent__team", "catalogue", "assessor", "reviewer", "submitted_by"
        ).filter(agent__slug=slug)
        if version is not None:
            found = versions.filter(number=version).first()
            if found is None:
                raise CommandError(f"{slug} has no assessment version {version}.")
            return found
        found = (
            versions.approved().order_by("-number").first() or versions.order_by("-number").first()
        )
        if found is None:
            raise CommandError(f"No agent “{slug}”, or it has no assessment yet.")
        return found
