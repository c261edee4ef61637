"""Role groups with catalog permissions, and the sources every lab starts with."""

from django.db import migrations

from lakeweb.roles import grant

SOURCES = [
    ("upload", "Upload", "Files uploaded through lakeweb's pages."),
    ("instrument", "Instrument", "Data written by a lab instrument and ingested."),
    ("geo", "GEO", "NCBI Gene Expression Omnibus."),
    ("ncbi_gene", "NCBI Gene", "NCBI Gene records."),
    ("pubmed", "PubMed", "PubMed literature records."),
    ("uniprot", "UniProt", "UniProt protein records."),
    ("pdb", "PDB", "Protein Data Bank structures."),
]


def forwards(apps, schema_editor):
    grant(apps, "catalog")
    source_model = apps.get_model("catalog", "Source")
    for slug, name, description in SOURCES:
        source_model.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
