"""Install catalogue version 2026.1 (frameworks, controls, mappings) from its YAML."""

from pathlib import Path

import yaml
from django.db import migrations

CATALOGUE = Path(__file__).resolve().parent.parent / "catalog" / "catalogue-v1.yaml"


def load(apps, schema_editor):
    from assessments.workflow.decisions import import_catalogue

    Version = apps.get_model("assessments", "CatalogueVersion")
    data = yaml.safe_load(CATALOGUE.read_text())
    if not Version.objects.filter(version=str(data["version"])).exists():
        import_catalogue(data, make_current=True, apps=apps)


class Migration(migrations.Migration):
    dependencies = [("assessments", "0003_catalogue_details")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
