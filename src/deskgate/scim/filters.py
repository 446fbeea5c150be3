"""A SCIM filter as one indexed query: scim2-models parses it, this walks its tree into a Q.

Only what an index serves is accepted (RFC 7644 §3.4.2.2 lets a provider refuse the rest
with `invalidFilter`): `eq` on userName (case-insensitive, the lower(username) index),
externalId, emails.value / emails[type eq "work"].value (the lower(email) index), id and
active, joined by `and` or `or`. Anything else answers 400 `invalidFilter`; nothing is ever
filtered in Python.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    ValuePath,
)

from deskgate.scim.schemas import CORE

NOTHING = Q(pk__in=[])
SUPPORTED = (
    'userName eq, externalId eq, id eq, active eq, emails.value eq and emails[type eq "work"]'
    ".value eq, joined by and/or"
)


def _refuse(what: str) -> InvalidFilterException:
    return InvalidFilterException(detail=f"{what} is not supported here; filters: {SUPPORTED}.")


def to_q(expression: str) -> Q:
    """The query of `expression`, or InvalidFilterException (400 invalidFilter)."""
    return _node(ScimFilter(expression).ast)


def attributes_of(expression: str) -> list[str]:
    """The attribute names a filter compares (for the audit trail: never the values)."""
    names: list[str] = []

    def walk(node: FilterNode) -> None:
        if isinstance(node, LogicalExpr):
            for term in node.terms:
                walk(term)
        elif isinstance(node, ValuePath):
            names.append(node.attr_path.attr)
        elif isinstance(node, Comparison):
            names.append(str(node.attr_path))

    walk(ScimFilter(expression).ast)
    return sorted(set(names))


def _node(node: FilterNode) -> Q:
    if isinstance(node, LogicalExpr):
        parts = [_node(term) for term in node.terms]
        combined = parts[0]
        for part in parts[1:]:
            combined = combined & part if node.op == LogicalOperator.and_ else combined | part
        return combined
    if isinstance(node, ValuePath):
        return _value_path(node)
    if isinstance(node, Comparison):
        return _comparison(node)
    raise _refuse(f"{node}")


def _name(path: AttrPath) -> str:
    """The attribute's name as `attr` or `attr.sub`, lower case; the core URN may prefix it."""
    if path.uri is not None and path.uri.lower() != CORE.lower():
        raise _refuse(str(path))
    return f"{path.attr}.{path.sub_attr}".lower() if path.sub_attr else path.attr.lower()


def _string(node: Comparison) -> str:
    if node.op != CompareOperator.eq:
        raise _refuse(f"The operator {node.op.value}")
    if not isinstance(node.value, str):
        raise InvalidFilterException(detail=f"{node.attr_path} compares with a string.")
    return node.value


def _comparison(node: Comparison) -> Q:
    name = _name(node.attr_path)
    if name == "username":
        return Q(Exact(Lower("username"), _string(node).lower()))
    if name == "externalid":
        return Q(external_id=_string(node))
    if name == "emails.value" or name == "emails":
        return _email(_string(node))
    if name == "id":
        return _subject(_string(node))
    if name == "active":
        if node.op != CompareOperator.eq:
            raise _refuse(f"The operator {node.op.value}")
        if not isinstance(node.value, bool):
            raise InvalidFilterException(detail="active compares with true or false.")
        return Q(is_active=node.value)
    raise _refuse(str(node.attr_path))


def _email(value: str) -> Q:
    return Q(Exact(Lower("email"), value.lower())) if value else NOTHING


def _subject(value: str) -> Q:
    try:
        return Q(subject=uuid.UUID(value))
    except ValueError:
        return NOTHING  # no user has that id


def _value_path(node: ValuePath) -> Q:
    """emails[type eq "work" and value eq "x"] (Entra's emails[type eq "work"].value eq "x"
    reads so): Deskgate keeps one Email, of type work."""
    if _name(node.attr_path) != "emails":
        raise _refuse(str(node))
    terms = (
        node.val_filter.terms
        if isinstance(node.val_filter, LogicalExpr) and node.val_filter.op == LogicalOperator.and_
        else (node.val_filter,)
    )
    query = ~Q(email="")
    for term in terms:
        if not isinstance(term, Comparison) or term.attr_path.sub_attr or term.attr_path.uri:
            raise _refuse(str(node))
        sub = term.attr_path.attr.lower()
        if sub == "value":
            query &= _email(_string(term))
        elif sub == "type":
            if _string(term).lower() != "work":
                return NOTHING
        elif sub == "primary":
            if term.op != CompareOperator.eq or not isinstance(term.value, bool):
                raise _refuse(str(node))
            if not term.value:
                return NOTHING
        else:
            raise _refuse(str(node))
    return query


def describe(expression: str | None) -> dict[str, Any]:
    """What the audit trail keeps of a filter: the attributes, never the values."""
    if not expression:
        return {}
    return {"filter_on": attributes_of(expression)}
