"""Fixed statements for the sign-in's hottest reads: rows into model instances without the
ORM's query compiler (issue 17).

The ORM compiles a query on every call. For a `select_related` of two or three wide models
(a user with their client) compiling cost several times the CPU the database took to answer,
and the sign-in asks such questions on every request. A `Shape` names the models of a
statement's select list once; `columns()` writes their columns for the statement; `one()`
runs it and builds the instances with each field's own database converters, so the values
are what the ORM gives (aware datetimes, JSON, booleans and decimals on SQLite).

The statement is written once, at import, from the models' metadata: no user input is ever
put into it, only into its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.expressions import Col

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


class Shape:
    """The models of one statement's select list, in order, each under its table alias."""

    def __init__(self, *parts: tuple[type[Model], str]) -> None:
        self.parts = parts
        self._fields: list[list[Field[Any, Any]]] = [
            list(model._meta.concrete_fields) for model, _ in parts
        ]
        self._names = [[f.attname for f in fields] for fields in self._fields]
        self._pk_at = [
            names.index(model._meta.pk.attname)
            for (model, _), names in zip(parts, self._names, strict=True)
        ]
        self._converters: dict[str, list[list[tuple[Col, list[Converter]]]]] = {}
        self.width = sum(len(fields) for fields in self._fields)  # columns in `columns()`

    def columns(self) -> str:
        """`alias."column", ...` for every model's concrete fields, in the order `one` reads."""
        return ", ".join(
            f'{alias}."{field.column}"'
            for (_, alias), fields in zip(self.parts, self._fields, strict=True)
            for field in fields
        )

    def _converters_for(
        self, connection: BaseDatabaseWrapper
    ) -> list[list[tuple[Col, list[Converter]]]]:
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for (_, alias), fields in zip(self.parts, self._fields, strict=True):
                per_model = []
                for field in fields:
                    col = field.get_col(alias)
                    converters = connection.ops.get_db_converters(col)
                    converters += col.get_db_converters(connection)
                    per_model.append((col, converters))
                found.append(per_model)
            self._converters[connection.vendor] = found
        return found

    def one(
        self, sql: str, params: Sequence[Any], *, using: str = "default"
    ) -> tuple[Model | None, ...] | None:
        """The first row as instances, one per model (None for a LEFT JOIN's missing row);
        None when there is no row."""
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return self.build(row, using=using)

    def build(self, row: Sequence[Any], *, using: str = "default") -> tuple[Model | None, ...]:
        """The instances of a row the caller fetched (as `one` builds them). Columns after
        the shape's (a statement's own extra values) are left to the caller."""
        connection = connections[using]
        instances: list[Model | None] = []
        start = 0
        shape = self._converters_for(connection)
        for i, (model, _) in enumerate(self.parts):
            per_model = shape[i]
            values = []
            for offset, (col, chain) in enumerate(per_model):
                value = row[start + offset]
                for convert in chain:
                    value = convert(value, col, connection)
                values.append(value)
            start += len(per_model)
            if values[self._pk_at[i]] is None:
                instances.append(None)
                continue
            instances.append(model.from_db(using, self._names[i], values))
        return tuple(instances)


def attach(instance: Model, name: str, related: Model | None) -> None:
    """Set a relation read in the same row (as `select_related` does): reading
    `instance.<name>` then asks the database nothing."""
    instance._state.fields_cache[name] = related


_INSERTS: dict[tuple[type[Model], str], tuple[str, list[Field[Any, Any]]]] = {}


def insert(instance: Model, *, using: str = "default") -> Model:
    """Save a new instance as one fixed `INSERT ... RETURNING` its key, as `save()` would
    (each field's `pre_save`, then its database value) without the ORM's compiler, which
    took more CPU for a one-row INSERT than the database took to run it (issue 17). For
    models with no signal receivers and an auto key; answers the instance, saved."""
    connection = connections[using]
    model = type(instance)
    found = _INSERTS.get((model, connection.vendor))
    if found is None:
        meta = model._meta
        pk = meta.pk
        fields = [f for f in meta.concrete_fields if f is not pk]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in fields)
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns})"  # noqa: S608  # our names
            f" VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(str(pk.column))}"
        )
        found = _INSERTS[(model, connection.vendor)] = (sql, fields)
    sql, fields = found
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = using
    return instance
