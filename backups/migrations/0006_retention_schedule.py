"""The daily retention and garbage-collection pass of the backup store, at 04:00 in
TIME_ZONE (after the daily and weekly snapshots); admins edit it in Django admin."""

from django.conf import settings
from django.db import migrations

NAME = "lakeweb backup retention"


def forwards(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    crontab, _ = crontab_model.objects.get_or_create(
        minute="0",
        hour="4",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name=NAME,
        defaults={"task": "backups.tasks.retention_scheduled_task", "crontab": crontab},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0005_snapshots_content_addressed"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
