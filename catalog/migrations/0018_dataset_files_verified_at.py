"""When every file of a dataset was last verified by fixity (written by each batch)."""

from django.db import migrations, models


def checks_now(apps, schema_editor):
    # PostgreSQL refuses to ALTER a table with deferred foreign-key checks
    # pending in the same transaction: run them first. Nothing is pending in
    # a plain `migrate`; a test that migrates with rows it just wrote has some.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0017_fixity_view_for_curators"),
    ]

    operations = [
        migrations.RunPython(checks_now, migrations.RunPython.noop),
        migrations.AddField(
            model_name="dataset",
            name="files_verified_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # Unapplying drops the column first: the checks run before that too.
        migrations.RunPython(migrations.RunPython.noop, checks_now),
    ]
