"""When every file of a dataset was last verified by fixity (written by each batch)."""

from django.db import migrations, models

from lakeweb.db import constraints_immediate


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0017_fixity_view_for_curators"),
    ]

    operations = [
        migrations.RunPython(constraints_immediate, migrations.RunPython.noop),
        migrations.AddField(
            model_name="dataset",
            name="files_verified_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # Unapplying drops the column first: the checks run before that too.
        migrations.RunPython(migrations.RunPython.noop, constraints_immediate),
    ]
