"""Promotions become jobs: status, progress, requester and times move to lakeweb.Job."""

import django.db.models.deletion
from django.db import migrations, models


def promotions_to_jobs(apps, schema_editor):
    Job = apps.get_model("lakeweb", "Job")
    Promotion = apps.get_model("catalog", "Promotion")
    for promotion in Promotion.objects.all().iterator():
        live = promotion.status != "failed"
        job = Job.objects.create(
            kind="promotion",
            queue="default",
            status=promotion.status,
            requested_by_id=promotion.requested_by_id,
            parameters={"source": str(promotion.source_id), "target_layer": promotion.target_layer},
            unique_key=f"promotion:{promotion.source_id}:{promotion.target_layer}"
            if live
            else None,
            progress_done=promotion.files_done,
            error=promotion.error,
            result={"target": str(promotion.target_id)} if promotion.target_id else {},
            finished_at=promotion.finished_at,
        )
        Job.objects.filter(pk=job.pk).update(created_at=promotion.created_at)
        promotion.job_id = job.pk
        promotion.save(update_fields=["job"])


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0011_uploadpart_rows_are_hashed"),
        ("lakeweb", "0001_jobs"),
    ]

    operations = [
        migrations.AddField(
            model_name="promotion",
            name="job",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="promotion",
                to="lakeweb.job",
            ),
        ),
        migrations.RunPython(promotions_to_jobs, migrations.RunPython.noop, elidable=True),
    ]
