"""Give the role groups the pipeline permissions: viewers see runs, members run onto
processed, curators onto curated too."""

from django.db import migrations

from lakeweb.roles import grant


def forwards(apps, schema_editor):
    grant(apps, "provenance")


class Migration(migrations.Migration):
    dependencies = [("provenance", "0004_pipeline_run")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
