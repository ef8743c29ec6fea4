"""Open gaps at 100,000 agents: each agent's latest approved version found by an index,
and the approved gaps carry their agent so they are counted from an index alone.

The approved gap rows are derived from the approved results (read again before the next
computation of the figures: ``portfolio.gaps.index_gaps``), so they are emptied here
rather than filled column by column."""

import django.db.models.deletion
from django.db import migrations, models


def forget_read_gaps(apps, schema_editor):
    apps.get_model("assessments", "ApprovedGap").objects.all().delete()


def analyse(apps, schema_editor):
    """The planner's statistics of the new indexes (SQLite has none until asked, and
    without them it reads the approved versions by the new index where another is
    ten times faster)."""
    if schema_editor.connection.vendor in ("sqlite", "postgresql"):
        schema_editor.execute("ANALYZE assessments_assessment")


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0091_reportrecord_signoff"),
    ]

    operations = [
        migrations.RunPython(forget_read_gaps, migrations.RunPython.noop),
        migrations.AddField(
            model_name="approvedgap",
            name="agent",
            field=models.ForeignKey(
                db_index=False,
                default=0,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="assessments.agent",
            ),
            preserve_default=False,
        ),
        migrations.AddIndex(
            model_name="assessment",
            index=models.Index(
                fields=["status", "agent", "number"], name="assessment_latest_approved"
            ),
        ),
        migrations.AddIndex(
            model_name="approvedgap",
            index=models.Index(
                fields=["assessment", "control_id", "agent"], name="approved_gap_rows"
            ),
        ),
        migrations.RunPython(analyse, migrations.RunPython.noop),
    ]
