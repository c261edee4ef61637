"""The fields the job now holds leave the backupjob row (a migration of its own:
PostgreSQL refuses to alter a table with row changes pending in the same transaction)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0003_backups_are_jobs"),
    ]

    operations = [
        migrations.AlterField(
            model_name="backupjob",
            name="job",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="backup",
                to="lakeweb.job",
            ),
        ),
        migrations.AlterModelOptions(
            name="backupjob",
            options={
                "ordering": ["-job__created_at"],
                "permissions": [("trigger_backup", "Can trigger a backup")],
            },
        ),
        migrations.RemoveField(
            model_name="backupjob",
            name="created_at",
        ),
        migrations.RemoveField(
            model_name="backupjob",
            name="finished_at",
        ),
        migrations.RemoveField(
            model_name="backupjob",
            name="started_at",
        ),
        migrations.RemoveField(
            model_name="backupjob",
            name="status",
        ),
        migrations.RemoveField(
            model_name="backupjob",
            name="triggered_by",
        ),
    ]
