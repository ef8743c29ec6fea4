"""``manage.py load_catalog``: install a catalogue YAML file as a new version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from assessments import actions, engine
from assessments import catalogue as versions
from assessments.models import CatalogueVersion


class Command(BaseCommand):
    help = (
        "Load a catalogue YAML file (frameworks, items, controls, mappings, reference notes) "
        "as a new catalogue version. Without FILE, the bundled catalogue. A version string "
        "that already exists is refused: versions are never overwritten, so assessments keep "
        "rendering as they were decided. The first version installed becomes current."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file",
            nargs="?",
            metavar="FILE",
            default=str(engine.catalogue.BUNDLED_CATALOGUE),
            help="Catalogue YAML file (default: the bundled assessments/catalog/catalogue-v1.yaml).",
        )
        parser.add_argument(
            "--make-current",
            action="store_true",
            help="Make the new version current: new assessments are decided under it.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would be loaded; write nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        data = _read(path)
        try:
            normalised = engine.Catalogue.from_dict(data).to_dict()
            versions.check_rows(normalised)
            version = versions.check_version_string(normalised["version"])
        except (engine.CatalogueError, ValueError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        counts = versions.summary(normalised)
        described = (
            f"catalogue {version}: {counts['frameworks']} frameworks, {counts['items']} items, "
            f"{counts['controls']} controls, {counts['mappings']} mappings, "
            f"{counts['reference_notes']} reference notes"
        )
        current = CatalogueVersion.objects.filter(is_current=True).first()
        becomes_current = options["make_current"] or current is None
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run: {path} is a valid {described}. "
                + (
                    "It would become the current version."
                    if becomes_current
                    else f"It would not be current ({current.version if current else '-'} stays "
                    "current; pass --make-current to change that)."
                )
                + " Nothing was written."
            )
            return
        try:
            loaded = actions.load_catalogue_version(
                None, data, make_current=options["make_current"], source=str(path)
            )
        except actions.ActionError as exc:
            raise CommandError(f"{path}: {exc}") from None
        self.stdout.write(
            self.style.SUCCESS(f"Loaded {described}.")
            + (
                " It is now the current version: new assessments are decided under it."
                if loaded.is_current
                else f" Catalogue {current.version if current else '-'} stays current; "
                "make the new version current in the admin or with --make-current."
            )
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{path}: there is no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise CommandError(f"{path}: is not valid YAML: {problem}{at}.") from None
    if not isinstance(data, dict):
        raise CommandError(
            f"{path}: must hold a catalogue mapping with version, frameworks, controls and "
            "reference_notes."
        )
    return data
