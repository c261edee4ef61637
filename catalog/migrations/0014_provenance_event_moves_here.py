"""The provenance record (``ProvenanceEvent``) moves from provenance to catalog.

Catalog, provenance and backups all write it, and provenance depends on
catalog, so catalog owns it. Only Django's state moves: the tables keep
their names (``Meta.db_table`` and the ``used`` table's ``db_table``), so no
row is copied. Provenance's ``0003`` drops the model from its own state.

The content type row moves with it, so the permissions (and admin history)
that point at it now belong to catalog, and the role groups keep them.
"""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from lakeweb.roles import grant

MODEL = "provenanceevent"


def _content_type_move(apps, schema_editor, old: str, new: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    rows = content_type.objects.using(schema_editor.connection.alias)
    # A row under the new label can only have been made by post_migrate while the
    # move was half applied (migrating to here without provenance's 0003, or back);
    # the old row holds the permissions the groups were given, so it wins.
    if rows.filter(app_label=old, model=MODEL).exists():
        rows.filter(app_label=new, model=MODEL).delete()
        rows.filter(app_label=old, model=MODEL).update(app_label=new)
    content_type.objects.clear_cache()


def forwards(apps, schema_editor):
    _content_type_move(apps, schema_editor, "provenance", "catalog")
    # A new database has no event permissions yet (provenance grants none now).
    grant(apps, "catalog")


def backwards(apps, schema_editor):
    _content_type_move(apps, schema_editor, "catalog", "provenance")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0013_promotion_job_fields_go"),
        ("provenance", "0002_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ProvenanceEvent",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=uuid.uuid4,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        (
                            "activity",
                            models.CharField(
                                choices=[
                                    ("collection", "collection"),
                                    ("promotion", "promotion"),
                                    ("pipeline", "pipeline"),
                                    ("note", "manual note"),
                                    ("backup", "backup"),
                                    ("restore", "restore"),
                                    ("verification", "verification"),
                                ],
                                max_length=20,
                            ),
                        ),
                        (
                            "actor_label",
                            models.CharField(
                                help_text="Who acted, kept if the user goes.", max_length=254
                            ),
                        ),
                        ("occurred_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        ("source_layer", models.CharField(blank=True, max_length=16)),
                        ("target_layer", models.CharField(blank=True, max_length=16)),
                        ("parameters", models.JSONField(blank=True, default=dict)),
                        ("note", models.TextField(blank=True)),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "dataset",
                            models.ForeignKey(
                                blank=True,
                                help_text="The dataset this action produced or acted on.",
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="provenance_events",
                                to="catalog.dataset",
                            ),
                        ),
                        (
                            "used",
                            models.ManyToManyField(
                                blank=True,
                                db_table="provenance_provenanceevent_used",
                                help_text="Source datasets.",
                                related_name="used_by_events",
                                to="catalog.dataset",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "provenance_provenanceevent",
                        "ordering": ["occurred_at"],
                        "indexes": [
                            models.Index(
                                fields=["dataset", "occurred_at"], name="prov_dataset_time_idx"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
