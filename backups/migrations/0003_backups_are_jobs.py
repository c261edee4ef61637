"""Backup jobs become jobs: status, requester and times move to lakeweb.Job."""

import django.db.models.deletion
from django.db import migrations, models


def backups_to_jobs(apps, schema_editor):
    Job = apps.get_model("lakeweb", "Job")
    BackupJob = apps.get_model("backups", "BackupJob")
    for backup in BackupJob.objects.all().iterator():
        job = Job.objects.create(
            kind="backup",
            queue="long",
            status=backup.status,
            requested_by_id=backup.triggered_by_id,
            parameters={"kind": backup.kind},
            progress_done=backup.object_count,
            error="; ".join(backup.errors)[:4000] if backup.status == "failed" else "",
            started_at=backup.started_at,
            finished_at=backup.finished_at,
        )
        Job.objects.filter(pk=job.pk).update(created_at=backup.created_at)
        backup.job_id = job.pk
        backup.save(update_fields=["job"])


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0002_roles_and_schedules"),
        ("lakeweb", "0001_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="backupjob",
            name="job",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="backup",
                to="lakeweb.job",
            ),
        ),
        migrations.RunPython(backups_to_jobs, migrations.RunPython.noop, elidable=True),
    ]
