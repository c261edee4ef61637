"""Backup permissions for the roles, and the default schedules (SPEC §2).

Daily at 02:00 and weekly on Sunday at 03:00, in TIME_ZONE; both are
django-celery-beat rows that admins can edit in Django admin.
"""

from django.conf import settings
from django.db import migrations

from lakeweb.roles import grant

SCHEDULES = [
    ("lakeweb daily backup", "daily", {"minute": "0", "hour": "2", "day_of_week": "*"}),
    ("lakeweb weekly backup", "weekly", {"minute": "0", "hour": "3", "day_of_week": "0"}),
]


def forwards(apps, schema_editor):
    grant(apps, "backups")
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, kind, when in SCHEDULES:
        crontab, _ = crontab_model.objects.get_or_create(
            day_of_month="*", month_of_year="*", timezone=settings.TIME_ZONE, **when
        )
        task_model.objects.get_or_create(
            name=name,
            defaults={
                "task": "backups.tasks.backup_scheduled_task",
                "crontab": crontab,
                "kwargs": f'{{"kind": "{kind}"}}',
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("backups", "0001_initial"),
        ("catalog", "0002_roles_and_sources"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
