"""The approved gap rows of each agent's latest approved version only: the earlier
versions' gap rows are deleted (their marks stay: they were read), so open gaps are
counted without looking for each agent's latest version. The rows are now found by
agent (the rows a new approval supersedes, a team's figures), not by assessment."""

from django.db import migrations, models


def forget_superseded_gaps(apps, schema_editor):
    Assessment = apps.get_model("assessments", "Assessment")
    ApprovedGap = apps.get_model("assessments", "ApprovedGap")
    later = Assessment.objects.filter(
        status="approved",
        agent_id=models.OuterRef("agent_id"),
        number__gt=models.OuterRef("assessment__number"),
    )
    ApprovedGap.objects.exclude(control_id="").filter(models.Exists(later)).delete()
    if schema_editor.connection.vendor in ("sqlite", "postgresql"):
        schema_editor.execute("ANALYZE assessments_approvedgap")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0093_search_trigram_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="approvedgap",
            name="approved_gap_rows",
        ),
        migrations.AddIndex(
            model_name="approvedgap",
            index=models.Index(fields=["agent", "control_id"], name="approved_gap_agent"),
        ),
        migrations.RunPython(forget_superseded_gaps, migrations.RunPython.noop),
    ]
