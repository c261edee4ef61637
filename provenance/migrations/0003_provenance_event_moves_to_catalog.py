"""``ProvenanceEvent`` now belongs to catalog (see catalog's ``0014``).

Only the state changes: catalog's model keeps this app's tables, so the
database is left as it is.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("provenance", "0002_roles"),
        ("catalog", "0014_provenance_event_moves_here"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ProvenanceEvent")],
            database_operations=[],
        ),
    ]
