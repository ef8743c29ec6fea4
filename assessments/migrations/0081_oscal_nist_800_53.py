"""NIST SP 800-53 Rev. 5 joins catalogue 2026.1 (issue 27): the framework, its items and
the mappings of the catalogue's controls to it, read from the bundled YAML.

Catalogue 2026.1 may already be locked (assessments were decided under it), and locked
versions do not change. This addition is reference data only: it adds no control and
changes no condition, so no classification, required control, status or gap of any
assessment changes, and reports already issued of approved assessments are kept files
that stay byte for byte what they were. Administrators' copies of 2026.1 are left as they
are; a new copy of 2026.1 carries 800-53. A database created from scratch already got
the framework from 0004, which reads the same YAML; then this does nothing.
"""

from pathlib import Path

import yaml
from django.db import migrations
from django.utils import timezone

CATALOGUE = Path(__file__).resolve().parent.parent / "catalog" / "catalogue-v1.yaml"
KEY = "nist_sp_800_53_rev5"


def add_framework(apps, schema_editor):
    Version = apps.get_model("assessments", "CatalogueVersion")
    Framework = apps.get_model("assessments", "Framework")
    Item = apps.get_model("assessments", "FrameworkItem")
    Control = apps.get_model("assessments", "Control")
    Mapping = apps.get_model("assessments", "ControlMapping")
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    version = Version.objects.filter(version=str(data["version"])).first()
    if version is None or Framework.objects.filter(catalogue=version, key=KEY).exists():
        return
    fw = next(f for f in data["frameworks"] if f["key"] == KEY)
    position = Framework.objects.filter(catalogue=version).count()
    framework = Framework.objects.create(
        catalogue=version,
        key=KEY,
        name=fw["name"],
        short_name=fw.get("short_name") or fw["name"],
        version=fw.get("version", ""),
        publisher=fw.get("publisher", ""),
        url=fw.get("url", ""),
        notes=list(fw.get("notes") or []),
        levels=list(fw.get("levels") or []),
        position=position,
    )
    items = {}
    for i_pos, it in enumerate(fw["items"]):
        items[it["id"]] = Item.objects.create(
            framework=framework,
            item_id=it["id"],
            title=it["title"],
            parent=items.get(it.get("parent") or ""),
            position=i_pos,
        )
    controls = {c.control_id: c for c in Control.objects.filter(catalogue=version)}
    Mapping.objects.bulk_create(
        Mapping(control=controls[ctl["id"]], item=items[m["item"]], justification=m["justification"])
        for ctl in data["controls"]
        if ctl["id"] in controls
        for m in ctl.get("mappings") or []
        if m["framework"] == KEY
    )
    # The engine's compiled copy of the version is rebuilt when this moves.
    Version.objects.filter(pk=version.pk).update(updated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("assessments", "0080_fast")]

    operations = [migrations.RunPython(add_framework, migrations.RunPython.noop)]
