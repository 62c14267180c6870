"""Inserting many new rows at import speed (register rows, audit entries).

``bulk_create`` spends most of an import's time in Django's per-value SQL compilation
(``pre_save``, ``get_db_prep_save``, ``field_as_sql`` for every field of every row) and, on
SQLite, splits the rows into statements of 999 // fields parameters. An import knows every value
up front, so here each model's fields are looked at once, rows become plain tuples and go to the
database in multi-row ``INSERT … RETURNING id`` statements. Values are converted by the fields
themselves where the database needs it (SM4 encryption, dates, decimals), so what is stored is
exactly what ``save`` would store.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

# Fields whose Python value is already what the driver takes (text, numbers, booleans, keys).
# Everything else (encrypted text, dates, decimals, JSON) goes through the field's own
# ``get_db_prep_save``.
_PLAIN = (models.CharField, models.IntegerField, models.BooleanField, models.ForeignKey)
_MAX_ROWS = 500
_MAX_PARAMS = 30_000


class RowWriter:
    """Builds instances of ``model`` cheaply and inserts them together."""

    def __init__(self, model: type[models.Model]) -> None:
        meta = model._meta
        self.model = model
        self.fields = list(meta.concrete_fields)
        self.attnames = [f.attname for f in self.fields]
        # Field defaults of these models are constants (no callables), computed once.
        self.defaults = [None if f.primary_key else f.get_default() for f in self.fields]
        # Every attribute of a new instance, with its default (in the fields' order).
        self.initial = dict(zip(self.attnames, self.defaults, strict=True))
        self.columns = [f for f in self.fields if not f.primary_key]
        self.stamped = [
            f.attname
            for f in self.columns
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]

    def build(self, values: Mapping[str, Any], related: Mapping[str, Any] | None = None) -> Any:
        """An unsaved instance from attribute values; ``related`` fills the relation caches
        (str() and the audit trail's region read them) without a query.

        What ``Model.__init__`` does with positional values (the path ``from_db`` takes), less
        its loop of ``setattr`` over every field: a new instance has no relation cached that
        setting a key would have to clear, so its attributes are set at once. With a
        ``pre_init`` or ``post_init`` receiver for the model the real ``__init__`` runs."""
        model = self.model
        if pre_init.has_listeners(model) or post_init.has_listeners(model):
            get = values.get
            obj = model(*[get(name, default) for name, default in self.initial.items()])
        else:
            obj = model.__new__(model)
            obj._state = ModelState()
            attributes = obj.__dict__
            attributes.update(self.initial)
            attributes.update(values)
        if related:
            obj._state.fields_cache.update(related)
        return obj

    @staticmethod
    def _converter(field: models.Field[Any, Any]) -> Any:
        if isinstance(field, _PLAIN):
            return None
        prepare = field.get_db_prep_save
        if not isinstance(field, models.DateField):
            return prepare  # encrypted text gets a fresh IV for every value
        # Dates and timestamps repeat (the same ``now`` on every row, shared birth dates):
        # convert each value once. The memo lives for one insert call.
        memo: dict[Any, Any] = {}

        def convert(value: Any, conn: Any) -> Any:
            try:
                return memo[value]
            except KeyError:
                memo[value] = converted = prepare(value, conn)
                return converted

        return convert

    def insert(self, objs: Sequence[models.Model]) -> None:
        """INSERT the instances and set their primary keys (created/updated stamped now)."""
        if not objs:
            return
        # The connection itself, not the ``django.db.connection`` proxy: the converters below
        # take it once per value, and each attribute read through the proxy looks it up again.
        connection = connections[DEFAULT_DB_ALIAS]
        vendor = connection.vendor
        if vendor != "postgresql" and not connection.features.can_return_rows_from_bulk_insert:
            self.model._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
            return
        now = timezone.now()
        for obj in objs:
            for name in self.stamped:
                setattr(obj, name, now)
        # The row is read in one C call; only the few columns that need it are converted.
        names = [f.attname for f in self.columns]
        values_of: Callable[[Any], Any]
        if len(names) > 1:  # noqa: SIM108 - mypy 2.4 crashes on the conditional expression
            values_of = operator.itemgetter(*names)
        else:
            values_of = _one(names[0])
        converted = [
            (position, convert)
            for position, convert in enumerate(self._converter(f) for f in self.columns)
            if convert is not None
        ]
        rows = []
        for obj in objs:
            row = list(values_of(obj.__dict__))
            for position, convert in converted:
                row[position] = convert(row[position], connection)
            rows.append(row)
        ids = self.insert_rows(rows)
        pk_attname = self.model._meta.pk.attname  # type: ignore[union-attr]
        alias = connection.alias
        for obj, pk in zip(objs, ids, strict=True):
            setattr(obj, pk_attname, pk)
            obj._state.adding = False
            obj._state.db = alias

    def column_names(self) -> list[str]:
        """The attribute names of a row's values for ``insert_rows``, in order."""
        return [f.attname for f in self.columns]

    def db_value(self, name: str, value: Any) -> Any:
        """``value`` of the field ``name`` as the database takes it (its ``get_db_prep_save``),
        for a value that every row of an ``insert_rows`` call shares."""
        connection = connections[DEFAULT_DB_ALIAS]
        field = next(f for f in self.columns if f.attname == name)
        return field.get_db_prep_save(value, connection)

    def insert_rows(self, rows: list[list[Any]], *, returning: bool = True) -> list[int]:
        """INSERT rows whose values are already what the database takes, in the order of
        ``column_names()`` (no defaults, no auto_now stamps, no conversion): the new ids in
        the rows' order, or [] when ``returning`` is False. The rows are inserted in their
        order, so their ids ascend in it."""
        if not rows:
            return []
        connection = connections[DEFAULT_DB_ALIAS]
        if connection.vendor == "postgresql":
            return self._copy(connection, rows, returning)
        return self._values(connection, rows, returning)

    def _names(self, connection: Any) -> tuple[str, str, str]:
        """Table, column list and primary key, quoted (names from the model, never input)."""
        quote = connection.ops.quote_name
        meta = self.model._meta
        columns = ", ".join(quote(str(f.column)) for f in self.columns)
        return quote(meta.db_table), columns, quote(str(meta.pk.column))  # type: ignore[union-attr]

    def _values(self, connection: Any, rows: list[list[Any]], returning: bool) -> list[int]:
        """Multi-row ``INSERT … RETURNING``, in statements of up to 500 rows."""
        table, columns, pk = self._names(connection)
        placeholder = "(" + ", ".join(["%s"] * len(self.columns)) + ")"
        step = max(1, min(_MAX_ROWS, _MAX_PARAMS // len(self.columns)))
        returned = f" RETURNING {pk}" if returning else ""
        ids: list[int] = []
        with connection.cursor() as cursor:
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                params = list(itertools.chain.from_iterable(chunk))
                values = ", ".join([placeholder] * len(chunk))
                sql = f"INSERT INTO {table} ({columns}) VALUES {values}{returned}"  # noqa: S608
                cursor.execute(sql, params)
                if returning:
                    ids.extend(row_id for (row_id,) in cursor.fetchall())
        return ids

    def _copy(self, connection: Any, rows: list[list[Any]], returning: bool) -> list[int]:
        """PostgreSQL: take the ids from the table's sequence, then COPY the rows with them
        (a big VALUES list costs psycopg more to build than the database to insert). Without
        ``returning`` the column's default numbers the rows, in the order COPY reads them."""
        table, columns, pk = self._names(connection)
        meta = self.model._meta
        with connection.cursor() as cursor:
            if not returning:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return []
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, len(rows)],  # type: ignore[union-attr]
            )
            ids = [int(pk) for (pk,) in cursor.fetchall()]
            with cursor.cursor.copy(f"COPY {table} ({pk}, {columns}) FROM STDIN") as copy:
                for pk_value, row in zip(ids, rows, strict=True):
                    copy.write_row([pk_value, *row])
        return ids


def _one(name: str) -> Any:
    """What ``itemgetter`` of several names gives (a tuple), for a single name."""
    return lambda attributes: (attributes[name],)
