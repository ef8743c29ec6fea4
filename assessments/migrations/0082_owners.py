"""Sponsors, co-owners in order of succession, orphaned agents and last activity
(issue 26). Every existing agent gets its owner as its sponsor."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def owner_is_sponsor(apps, schema_editor):
    Agent = apps.get_model("assessments", "Agent")
    Agent.objects.filter(sponsor__isnull=True).update(sponsor=models.F("owner"))


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0081_scim"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="agent",
            name="sponsor",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sponsored_agents",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(owner_is_sponsor, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="agent",
            name="sponsor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                help_text="The accountable person who vouches for this agent and what it may reach.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="sponsored_agents",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="agent",
            name="orphaned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="agent",
            name="last_activity_on",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="agent",
            name="last_activity_source",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddIndex(
            model_name="agent",
            index=models.Index(fields=["status", "orphaned_at"], name="agent_orphaned"),
        ),
        migrations.AddIndex(
            model_name="agent",
            index=models.Index(fields=["status", "last_activity_on"], name="agent_last_activity"),
        ),
        migrations.CreateModel(
            name="AgentOwner",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "agent",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="co_owners",
                        to="assessments.agent",
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="co_owned_agents",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["agent", "position"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("agent", "person"), name="one_ownership_per_person"
                    )
                ],
            },
        ),
    ]
