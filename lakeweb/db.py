"""Database helpers the ORM has no cheap form of."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from django.db import connections, models, router

# Rows sent per executemany: bounds the memory of one call, not the speed.
ROWS_PER_CALL = 2000


def rows_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """INSERT many plain rows at once; returns how many.

    ``bulk_create`` builds a model and prepares every value of every row
    through its field (10,000 upload rows: about 1.5 s of Python). Here the
    values of ``columns`` go to the driver as they are, so they must be what
    the driver takes unconverted: str, int, bool, bytes, None. ``constants``
    (the same for every row: a foreign key, a timestamp) are prepared once by
    their field. Defaults are not applied and no ids come back: give every
    column the table needs, and read the rows back if their ids matter.
    """
    constants = dict(constants or {})
    using = router.db_for_write(model)
    connection = connections[using]
    meta = model._meta
    fields = [_concrete(model, name) for name in (*columns, *constants)]
    fixed = tuple(
        _concrete(model, name).get_db_prep_save(value, connection)
        for name, value in constants.items()
    )
    names = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(meta.db_table)
    # Names come from the model and are quoted; every value is a parameter.
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608
    done = 0
    source = iter(rows)
    with connection.cursor() as cursor:
        while block := [(*row, *fixed) for row in islice(source, ROWS_PER_CALL)]:
            cursor.executemany(sql, block)
            done += len(block)
    return done


def _concrete(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def constraints_immediate(apps: Any, schema_editor: Any) -> None:
    """A migration step before an ALTER of a table rows were just written to.

    PostgreSQL refuses to ALTER a table with deferred foreign-key checks
    pending in the same transaction: run them first. Nothing is pending in a
    plain ``migrate``; a test that migrates with rows it just wrote has some.
    """
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
