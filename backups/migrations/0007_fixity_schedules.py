"""Beat schedules of fixity: a batch every FIXITY_INTERVAL_MINUTES, reconciliation daily.

Both are django-celery-beat rows admins can edit; the batch size follows
FIXITY_INTERVAL_MINUTES (backups/fixity.py), so change both together.
"""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every, _ = interval_model.objects.get_or_create(
        every=settings.FIXITY_INTERVAL_MINUTES, period="minutes"
    )
    task_model.objects.get_or_create(
        name="lakeweb fixity batch",
        defaults={"task": "backups.tasks.fixity_scheduled_task", "interval": every},
    )
    daily, _ = crontab_model.objects.get_or_create(
        minute="30",
        hour="4",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name="lakeweb reconciliation",
        defaults={"task": "backups.tasks.reconcile_scheduled_task", "crontab": daily},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0006_retention_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
