"""Beat schedule of the restore drill: weekly, Sunday 06:00, after the weekly snapshot
(03:00) and retention (04:00). An admin can move it in Django admin."""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    weekly, _ = crontab_model.objects.get_or_create(
        minute="0",
        hour="6",
        day_of_week="0",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name="lakeweb restore drill",
        defaults={"task": "backups.tasks.drill_scheduled_task", "crontab": weekly},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0008_drills_and_blob_fixity"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
