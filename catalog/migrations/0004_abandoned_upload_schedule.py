"""An hourly beat schedule that cleans abandoned uploads (editable in admin)."""

from django.db import migrations


def forwards(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    hourly, _ = interval_model.objects.get_or_create(every=1, period="hours")
    task_model.objects.get_or_create(
        name="lakeweb abandoned uploads",
        defaults={"task": "catalog.tasks.uploads_abandoned_clean_task", "interval": hourly},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_upload_files"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
