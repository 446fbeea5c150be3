"""Fixed statements for the hot path: rows into model instances, and one-row writes,
without the ORM's query compiler (issue 17).

The ORM compiles a query on every call. For a `select_related` of two or three wide models
(a user with their client) compiling cost several times the CPU the database took to answer,
and a sign-in asks such questions on every request. A `Shape` names the models of a
statement's select list once; `columns()` writes their columns for the statement; `one()`
runs it and builds the instances with each field's own database converters, so the values
are what the ORM gives (aware datetimes, JSON, booleans and decimals on SQLite). `Joined`
writes the statement of a `select_related(...).first()` from foreign keys. `insert` and
`update` write one row as `save()` would; within `waiting()`, on PostgreSQL, writes whose
results nobody reads at once go to the database together, as one statement.

Statements are written once, from the models' metadata: no user input is ever put into
them, only into their parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from django.db import DatabaseError, connections, router
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


def insert(instance: M, *, using: str = "default", later: bool = False) -> M:
    """INSERT the instance as a new row; an automatic primary key is read back (RETURNING:
    PostgreSQL, SQLite 3.35 and later) onto it. Answers the instance, saved.

    `later`: within `waiting()`, the row may wait to go with the block's other writes (its
    key is set on the instance when it has gone); elsewhere it goes now."""
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
    instance._state.adding = False
    instance._state.db = using
    if auto is None:
        write(sql, params, using=using, later=later)
        return instance
    key_of = auto.attname

    def keep_key(_count: int, key: Any) -> None:
        setattr(instance, key_of, key)

    write(sql, params, using=using, later=later, returns=_column(auto), then=keep_key)
    return instance


def update(
    instance: Model, fields: Sequence[str], *, using: str = "default", later: bool = False
) -> int | None:
    """UPDATE these fields (by name) of the instance's row to its values; answer how many
    rows changed (0: the row is gone). `later`: as for `insert`; None when it waits."""
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
    return write(sql, params, using=using, later=later)


# -- writes that wait: several in one statement (PostgreSQL) ----------------------------------
#
# A sign-in's closing writes (the attempt claimed, last_login, the session's record, the audit
# event) are four statements whose results nobody reads: four round trips in the
# transaction, each costing the worker more CPU than the database spends on it (issue 17).
# PostgreSQL runs several data-modifying statements as one, each in a WITH clause of its own;
# they share one snapshot, so they must not touch the same row (nor read what another of
# them writes), which writes that wait never do: any other statement sends them first.


class WriteLost(DatabaseError):
    """A write that had to change a row changed none (`write(must_change=True)`): the
    transaction must not commit what went with it."""


@dataclass(frozen=True)
class _Write:
    sql: str
    params: Sequence[Any]
    returns: str | None  # the column its RETURNING names, when it has one
    then: Callable[[int, Any], None] | None  # given the rows changed and the returned value


class _Waiting:
    """The writes waiting in one `waiting()` block, and the connection's execute wrapper that
    sends them before any other statement (so every read sees them)."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.writes: list[_Write] = []
        self.sending = False

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if self.writes and not self.sending:
            self.send()
        return execute(sql, params, many, context)

    def send(self) -> None:
        writes, self.writes = self.writes, []
        if not writes:
            return
        self.sending = True
        try:
            if len(writes) == 1:
                _run(writes[0], self.using)
            else:
                _run_together(writes, self.using)
        finally:
            self.sending = False


_WAITING: ContextVar[_Waiting | None] = ContextVar("deskgate_rows_waiting", default=None)


def _run(one: _Write, using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(one.sql, one.params)
        count = int(cursor.rowcount)
        value = cursor.fetchone()[0] if one.returns is not None else None
    if one.then is not None:
        one.then(count, value)
    return count


def _run_together(writes: Sequence[_Write], using: str) -> None:
    """One statement: each write in a WITH clause, the SELECT answering each one's count of
    rows (or the value its RETURNING names)."""
    clauses = []
    answers = []
    params: list[Any] = []
    for i, one in enumerate(writes):
        sql = one.sql if one.returns is not None else f"{one.sql} RETURNING 1"
        clauses.append(f"w{i} AS ({sql})")
        answers.append(
            f"(SELECT {one.returns} FROM w{i})"  # noqa: S608  # our column's name
            if one.returns is not None
            else f"(SELECT count(*) FROM w{i})"  # noqa: S608  # our alias
        )
        params.extend(one.params)
    statement = f"WITH {', '.join(clauses)} SELECT {', '.join(answers)}"
    with connections[using].cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    for one, answer in zip(writes, row, strict=True):
        if one.then is not None:
            returned = one.returns is not None
            one.then(1 if returned else int(answer), answer if returned else None)


def write(
    sql: str,
    params: Sequence[Any],
    *,
    using: str = "default",
    later: bool = False,
    returns: str | None = None,
    then: Callable[[int, Any], None] | None = None,
    must_change: bool = False,
) -> int | None:
    """Run one of our fixed writes (an INSERT, UPDATE or DELETE; `returns`: the one column
    its RETURNING names, handed to `then` with the count of rows it changed).

    `later`: within `waiting()` on this connection, wait to go with the block's other writes
    (and answer None); elsewhere go now and answer the count. `must_change`: a write that
    changes no row raises `WriteLost` (the caller knows the row is there: it holds it
    locked)."""

    def checked(count: int, value: Any) -> None:
        if must_change and count == 0:
            raise WriteLost(f"a write that had to change a row changed none: {sql[:60]}")
        if then is not None:
            then(count, value)

    one = _Write(sql, params, returns, checked)
    waiting = _WAITING.get()
    if later and waiting is not None and waiting.using == using:
        waiting.writes.append(one)
        return None
    return _run(one, using)


def waits(using: str = "default") -> bool:
    """Whether a write made now with `later=True` would wait (`waiting()` is open on this
    connection, PostgreSQL)."""
    block = _WAITING.get()
    return block is not None and block.using == using


@contextmanager
def waiting(using: str = "default") -> Iterator[None]:
    """A block whose writes made with `later=True` go to the database together: on
    PostgreSQL in one statement, at the block's end or just before any other statement the
    block runs (which therefore sees them); elsewhere (SQLite: no writes in WITH) each goes
    when made. Use it inside the transaction the writes belong to. An error from the
    database, or any error that has already marked the transaction for rollback (it left
    an `atomic(savepoint=False)`), drops the writes still waiting (the transaction is lost
    anyway); any other error sends them first, as they would have gone had they not
    waited."""
    connection = connections[using]
    if connection.vendor != "postgresql" or _WAITING.get() is not None:
        yield  # each write goes when made, or with the outer block's
        return
    block = _Waiting(using)
    token = _WAITING.set(block)
    try:
        with connection.execute_wrapper(block):
            try:
                yield
            except DatabaseError:
                block.writes.clear()
                raise
            except BaseException:
                if connection.needs_rollback:
                    block.writes.clear()
                else:
                    block.send()
                raise
            block.send()
    finally:
        _WAITING.reset(token)
