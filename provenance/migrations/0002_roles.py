"""Give the role groups their provenance permissions."""

from django.db import migrations

from lakeweb.roles import grant


def forwards(apps, schema_editor):
    grant(apps, "provenance")


class Migration(migrations.Migration):
    dependencies = [("provenance", "0001_initial"), ("catalog", "0002_roles_and_sources")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
