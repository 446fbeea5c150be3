"""Fixed statements for the hot path: rows into model instances, and one-row writes,
without the ORM's query compiler (issue 17).

The ORM compiles a query on every call. For a `select_related` of two or three wide models
(a user with their client) compiling cost several times the CPU the database took to answer,
and a sign-in asks such questions on every request. A `Shape` names the models of a
statement's select list once; `columns()` writes their columns for the statement; `one()`
runs it and builds the instances with each field's own database converters, so the values
are what the ORM gives (aware datetimes, JSON, booleans and decimals on SQLite). `Joined`
writes the statement of a `select_related(...).first()` from foreign keys. `insert` and
`update` write one row as `save()` would.

Statements are written once, from the models' metadata: no user input is ever put into
them, only into their parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model
from django.db.models.expressions import Col

M = TypeVar("M", bound=Model)
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
        found = self.one_and_rest(sql, params, using=using)
        return None if found is None else found[0]

    def one_and_rest(
        self, sql: str, params: Sequence[Any], *, using: str = "default"
    ) -> tuple[tuple[Model | None, ...], tuple[Any, ...]] | None:
        """As `one`, and the values of the select list's columns after the models' (as the
        driver gives them: an EXISTS is 0 or 1 on SQLite)."""
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return self.build(row, using=using), tuple(row[self.width :])

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


class Joined(Generic[M]):
    """One row and the rows its foreign keys lead to, as `select_related(...).first()`
    builds them (model instances, the related ones cached on their parents, None where a
    key is empty), from one fixed statement.

    `edges` are (index of the parent model, its foreign key's name), the root being 0;
    `where` is about the root's columns, aliased t0.
    """

    def __init__(self, root: type[M], edges: Sequence[tuple[int, str]], where: str) -> None:
        self.root = root
        chain: list[type[Model]] = [root]
        self.links: list[tuple[int, ForeignKey[Any, Any]]] = []
        joins = []
        for parent, name in edges:
            field = chain[parent]._meta.get_field(name)
            target = getattr(field, "related_model", None)
            if not isinstance(field, ForeignKey) or not (
                isinstance(target, type) and issubclass(target, Model)
            ):
                raise TypeError(f"{name} is not a foreign key of {chain[parent].__name__}")
            alias = f"t{len(chain)}"
            joins.append(
                f' LEFT JOIN "{target._meta.db_table}" {alias}'
                f' ON {alias}."{target._meta.pk.column}" = t{parent}."{field.column}"'
            )
            self.links.append((parent, field))
            chain.append(target)
        self.shape = Shape(*((model, f"t{i}") for i, model in enumerate(chain)))
        self.sql = (
            f'SELECT {self.shape.columns()} FROM "{root._meta.db_table}" t0'  # noqa: S608  # our names
            f"{''.join(joins)} WHERE {where}"
        )

    def first(self, params: Sequence[Any]) -> M | None:
        found = self.shape.one(self.sql, list(params), using=router.db_for_read(self.root))
        if found is None:
            return None
        for (parent, field), child in zip(self.links, found[1:], strict=True):
            owner = found[parent]
            if owner is not None and (child is not None or getattr(owner, field.attname) is None):
                field.set_cached_value(owner, child)
        return cast(M, found[0])


def attach(instance: Model, name: str, related: Model | None) -> None:
    """Set a relation read in the same row (as `select_related` does): reading
    `instance.<name>` then asks the database nothing."""
    instance._state.fields_cache[name] = related


# -- writes: one row in one statement, without the ORM's compiler ----------------------------
#
# `Model.save()` compiles its INSERT or UPDATE on every call, and on the sign-in's path that
# cost more CPU than the database took to run the statement (issue 17). These write the same
# values: each field's `pre_save` (auto_now, auto_now_add) and `get_db_prep_save` (the
# database's form of a datetime, JSON, an address), as the ORM's compiler does. No signals
# are sent (no model written through them has a receiver).

_INSERTS: dict[
    tuple[type[Model], str], tuple[str, list[Field[Any, Any]], Field[Any, Any] | None]
] = {}
_UPDATES: dict[tuple[type[Model], tuple[str, ...], str], tuple[str, list[Field[Any, Any]]]] = {}


def _column(field: Field[Any, Any]) -> str:
    return str(field.column)  # a concrete field's: never None


def insert(instance: M, *, using: str = "default") -> M:
    """INSERT the instance as a new row; an automatic primary key is read back (RETURNING:
    PostgreSQL, SQLite 3.35 and later) onto it. Answers the instance, saved."""
    model = instance._meta.model  # a lazy request.user too
    connection = connections[using]
    key = (model, connection.vendor)
    found = _INSERTS.get(key)
    if found is None:
        meta = model._meta
        auto: Field[Any, Any] | None = meta.auto_field
        fields = [f for f in meta.concrete_fields if f is not auto]
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(_column(f)) for f in fields)})"  # noqa: S608  # our names
            f" VALUES ({', '.join(['%s'] * len(fields))})"
        )
        if auto is not None:
            sql += f" RETURNING {quote(_column(auto))}"
        found = (sql, fields, auto)
        _INSERTS[key] = found
    sql, fields, auto = found
    if auto is not None and getattr(instance, auto.attname) is not None:
        instance.save(force_insert=True, using=using)  # a chosen key: the ORM's way
        return instance
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto is not None:
            setattr(instance, auto.attname, cursor.fetchone()[0])
    instance._state.adding = False
    instance._state.db = using
    return instance


def update(instance: Model, fields: Sequence[str], *, using: str = "default") -> int:
    """UPDATE these fields (by name) of the instance's row to its values; answer how many
    rows changed (0: the row is gone)."""
    model = instance._meta.model  # a lazy request.user too
    connection = connections[using]
    key = (model, tuple(fields), connection.vendor)
    found = _UPDATES.get(key)
    if found is None:
        meta = model._meta
        chosen: list[Field[Any, Any]] = [meta.get_field(name) for name in fields]  # type: ignore[misc]  # concrete fields
        quote = connection.ops.quote_name
        sets = ", ".join(f"{quote(_column(f))} = %s" for f in chosen)
        sql = f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(_column(meta.pk))} = %s"  # noqa: S608  # our names
        found = (sql, chosen)
        _UPDATES[key] = found
    sql, chosen = found
    params = [f.get_db_prep_save(f.pre_save(instance, False), connection) for f in chosen]
    pk = instance._meta.pk
    params.append(pk.get_db_prep_save(pk.pre_save(instance, False), connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)
