"""Frameworks record their real number of items per level, so coverage is counted one
level at a time (e.g. NIST AI RMF subcategories, out of 72). Fills catalogue 2026.1's
frameworks from its YAML; copies made from it get the same levels by framework key."""

from pathlib import Path

import yaml
from django.db import migrations, models

CATALOGUE = Path(__file__).resolve().parent.parent / "catalog" / "catalogue-v1.yaml"


def fill_levels(apps, schema_editor):
    Framework = apps.get_model("assessments", "Framework")
    data = yaml.safe_load(CATALOGUE.read_text())
    levels = {fw["key"]: fw["levels"] for fw in data["frameworks"] if fw.get("levels")}
    for framework in Framework.objects.filter(key__in=levels):  # a handful of rows
        if not framework.levels:
            framework.levels = levels[framework.key]
            framework.save(update_fields=["levels"])


class Migration(migrations.Migration):
    dependencies = [("assessments", "0030_records")]

    operations = [
        migrations.AddField(
            model_name="framework",
            name="levels",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(fill_levels, migrations.RunPython.noop),
    ]
