"""Turn the plain keys of ``rest_framework.authtoken`` into hashed API tokens.

Each old key keeps working: its SHA-256 becomes an ApiToken of the same user,
with its creation time, and the plain row is deleted. The old app is no longer
installed, so its table is read with SQL when it exists (it does not on a new
install). Going back cannot restore the keys: the reverse does nothing.
"""

import hashlib

from django.db import migrations

LEGACY_TABLE = "authtoken_token"
LEGACY_PREFIX_LENGTH = 8  # what the old token page showed of a key


def hash_plain_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    api_token = apps.get_model("lakeweb", "ApiToken")
    table = connection.ops.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "key", "user_id", "created" FROM {table}')  # noqa: S608
        rows = cursor.fetchall()
        for key, user_id, created in rows:
            token = api_token.objects.create(
                user_id=user_id,
                name="made before tokens were hashed",
                prefix=key[:LEGACY_PREFIX_LENGTH],
                digest=hashlib.sha256(key.encode()).hexdigest(),
            )
            # auto_now_add set it to now; the token is as old as its key.
            api_token.objects.filter(pk=token.pk).update(created_at=created)
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a constant, quoted name


class Migration(migrations.Migration):
    dependencies = [
        ("lakeweb", "0003_api_tokens"),
    ]

    operations = [
        migrations.RunPython(hash_plain_tokens, migrations.RunPython.noop, elidable=False),
    ]
