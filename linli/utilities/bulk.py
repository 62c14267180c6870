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

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models
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
        self.columns = [f for f in self.fields if not f.primary_key]
        self.stamped = [
            f.attname
            for f in self.columns
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]

    def build(self, values: Mapping[str, Any], related: Mapping[str, Any] | None = None) -> Any:
        """An unsaved instance from attribute values (positional ``__init__``, the fast path
        ``from_db`` uses); ``related`` fills the relation caches (str() and the audit trail's
        region read them) without a query."""
        get = values.get
        obj = self.model(
            *[
                get(name, default)
                for name, default in zip(self.attnames, self.defaults, strict=True)
            ]
        )
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
        vendor = connection.vendor
        if vendor != "postgresql" and not connection.features.can_return_rows_from_bulk_insert:
            self.model._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
            return
        now = timezone.now()
        for obj in objs:
            for name in self.stamped:
                setattr(obj, name, now)
        converters = [self._converter(field) for field in self.columns]
        attnames = [f.attname for f in self.columns]
        rows = [
            [
                value if convert is None else convert(value, connection)
                for value, convert in zip(
                    [obj.__dict__[name] for name in attnames], converters, strict=True
                )
            ]
            for obj in objs
        ]
        ids = self._copy(rows) if vendor == "postgresql" else self._values(rows)
        pk_attname = self.model._meta.pk.attname  # type: ignore[union-attr]
        alias = connection.alias
        for obj, pk in zip(objs, ids, strict=True):
            setattr(obj, pk_attname, pk)
            obj._state.adding = False
            obj._state.db = alias

    def _names(self) -> tuple[str, str, str]:
        """Table, column list and primary key, quoted (names from the model, never input)."""
        quote = connection.ops.quote_name
        meta = self.model._meta
        columns = ", ".join(quote(str(f.column)) for f in self.columns)
        return quote(meta.db_table), columns, quote(str(meta.pk.column))  # type: ignore[union-attr]

    def _values(self, rows: list[list[Any]]) -> list[int]:
        """Multi-row ``INSERT … RETURNING``, in statements of up to 500 rows."""
        table, columns, pk = self._names()
        placeholder = "(" + ", ".join(["%s"] * len(self.columns)) + ")"
        step = max(1, min(_MAX_ROWS, _MAX_PARAMS // len(self.columns)))
        ids: list[int] = []
        with connection.cursor() as cursor:
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                params = [value for row in chunk for value in row]
                values = ", ".join([placeholder] * len(chunk))
                sql = f"INSERT INTO {table} ({columns}) VALUES {values} RETURNING {pk}"  # noqa: S608
                cursor.execute(sql, params)
                ids.extend(row_id for (row_id,) in cursor.fetchall())
        return ids

    def _copy(self, rows: list[list[Any]]) -> list[int]:
        """PostgreSQL: take the ids from the table's sequence, then COPY the rows with them
        (a big VALUES list costs psycopg more to build than the database to insert)."""
        table, columns, pk = self._names()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [self.model._meta.db_table, self.model._meta.pk.column, len(rows)],  # type: ignore[union-attr]
            )
            ids = [int(pk) for (pk,) in cursor.fetchall()]
            with cursor.cursor.copy(f"COPY {table} ({pk}, {columns}) FROM STDIN") as copy:
                for pk_value, row in zip(ids, rows, strict=True):
                    copy.write_row([pk_value, *row])
        return ids
