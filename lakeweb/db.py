"""Database helpers the ORM has no cheap form of."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

T = TypeVar("T")

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


# Threads with a connection of their own, for reads a request starts early and
# waits for later (``read_beside``); made in each process on first use (a pool
# made before gunicorn forks would not survive into its workers).
BESIDE_THREADS = 2
_beside_lock = threading.Lock()
_beside_pool: ThreadPoolExecutor | None = None
_beside_pid = 0
_beside_connections: list[BaseDatabaseWrapper] = []


def beside_possible() -> bool:
    """Whether ``read_beside`` may read on another connection now.

    Not inside a transaction (another connection would not see its rows),
    nor on SQLite (the embedded default: one file on one machine).
    """
    connection = connections[DEFAULT_DB_ALIAS]
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def read_beside(read: Callable[[], T]) -> Callable[[], T]:
    """Start ``read`` on a second database connection; call what this returns to wait for it.

    For a slow read (a capped count) whose result the caller needs only after
    other work of its own (reading and rendering a page): the database and
    this process then work at the same time. Ask ``beside_possible`` first.
    """
    return _pool().submit(_read_on_own_connection, read).result


def _pool() -> ThreadPoolExecutor:
    global _beside_pool, _beside_pid
    with _beside_lock:
        if _beside_pool is None or _beside_pid != os.getpid():
            _beside_pool = ThreadPoolExecutor(BESIDE_THREADS, thread_name_prefix="read-beside")
            _beside_pid = os.getpid()
            _beside_connections.clear()
        return _beside_pool


def _read_on_own_connection(read: Callable[[], T]) -> T:
    # The thread keeps its connection between reads, as a request's does
    # (CONN_MAX_AGE, with its health check), and closes it when it is too old.
    close_old_connections()
    connection = connections[DEFAULT_DB_ALIAS]
    with _beside_lock:
        if connection not in _beside_connections:
            _beside_connections.append(connection)
    return read()


def read_beside_stop() -> None:
    """Stop the threads and close their connections (before a test database is dropped)."""
    global _beside_pool
    with _beside_lock:
        pool, _beside_pool = _beside_pool, None
        held = list(_beside_connections)
        _beside_connections.clear()
    if pool is not None:
        pool.shutdown(wait=True)
    for connection in held:
        # Its thread is gone; the raw connection is closed from here.
        connection.inc_thread_sharing()
        connection.close()
