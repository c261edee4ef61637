"""The fields the job now holds leave the promotion row (a migration of its own:
PostgreSQL refuses to alter a table with row changes pending in the same transaction)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0012_promotions_are_jobs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="promotion",
            name="job",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="promotion",
                to="lakeweb.job",
            ),
        ),
        migrations.AlterModelOptions(
            name="promotion",
            options={"ordering": ["-job__created_at"]},
        ),
        migrations.RemoveConstraint(
            model_name="promotion",
            name="promotion_unique_active",
        ),
        migrations.RemoveIndex(
            model_name="promotion",
            name="promotion_recent_idx",
        ),
        migrations.RemoveField(
            model_name="promotion",
            name="created_at",
        ),
        migrations.RemoveField(
            model_name="promotion",
            name="error",
        ),
        migrations.RemoveField(
            model_name="promotion",
            name="files_done",
        ),
        migrations.RemoveField(
            model_name="promotion",
            name="finished_at",
        ),
        migrations.RemoveField(
            model_name="promotion",
            name="requested_by",
        ),
        migrations.RemoveField(
            model_name="promotion",
            name="status",
        ),
    ]
