"""Curators (and admins) see the fixity page: the permission to view fixity failures."""

from django.db import migrations

from lakeweb.roles import grant


def forwards(apps, schema_editor):
    grant(apps, "catalog")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0016_datafile_version_and_fixity")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
