"""A PATCH (RFC 7644 §3.5.2) applied to the SCIM User of a user as stored.

scim2-models reads the operations (Entra's capitalised "Replace" and "Add" included), their
paths (value paths, the enterprise extension's URN-prefixed ones) and path-less value
objects, and applies them. One quirk it leaves to the service: Entra sends `add` (or
`replace`) to `emails[type eq "work"].value` for a user who has no work email yet; RFC
7644 §3.5.2.1 has `add` create it, so such an operation becomes an `add` of the value.
"""

from __future__ import annotations

from typing import Any

from scim2_models import Context, InvalidSyntaxException, PatchOp, Path
from scim2_models.path import CompareOperator, Comparison, LogicalExpr, LogicalOperator, ValuePath

from deskgate.scim.schemas import ScimUser

MULTI_VALUED = {"emails": "emails", "phonenumbers": "phone_numbers"}


def apply(resource: Any, body: dict[str, Any]) -> None:
    """Change `resource` as the PATCH body says; SCIMException or pydantic's ValidationError
    for a body or an operation that cannot be applied."""
    operations = body.get("Operations")
    if isinstance(operations, list):
        body = {**body, "Operations": [_creating(resource, op) for op in operations]}
    patch = PatchOp[ScimUser].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    patch.patch(resource)


def _wanted(node: ValuePath) -> dict[str, Any] | None:
    """The sub-attributes a value filter of `eq` comparisons asks for, else None."""
    terms = (
        node.val_filter.terms
        if isinstance(node.val_filter, LogicalExpr) and node.val_filter.op == LogicalOperator.and_
        else (node.val_filter,)
    )
    wanted: dict[str, Any] = {}
    for term in terms:
        if not isinstance(term, Comparison) or term.op != CompareOperator.eq:
            return None
        if term.attr_path.sub_attr or term.attr_path.uri:
            return None
        wanted[term.attr_path.attr] = term.value
    return wanted


def _matches(item: Any, wanted: dict[str, Any]) -> bool:
    for name, value in wanted.items():
        have = getattr(item, name.lower(), None)
        if isinstance(value, str) and have is not None:
            if str(have).lower() != value.lower():
                return False
        elif have != value:
            return False
    return True


def _creating(resource: Any, operation: Any) -> Any:
    """`operation`, or an `add` of a new value where it targets a value none matches."""
    if not isinstance(operation, dict):
        return operation
    op, path = operation.get("op"), operation.get("path")
    if not isinstance(op, str) or op.lower() not in ("add", "replace"):
        return operation
    if not isinstance(path, str):
        return operation
    try:
        node = Path(path).ast
    except InvalidSyntaxException:
        return operation
    except Exception:  # noqa: BLE001  # a bad path is reported by PatchOp's own validation
        return operation
    if not isinstance(node, ValuePath) or node.sub_attr is None or node.attr_path.uri:
        return operation
    field = MULTI_VALUED.get(node.attr_path.attr.lower())
    wanted = _wanted(node)
    if field is None or wanted is None:
        return operation
    if any(_matches(item, wanted) for item in getattr(resource, field) or []):
        return operation
    value = operation.get("value")
    return {"op": "add", "path": node.attr_path.attr, "value": [{**wanted, node.sub_attr: value}]}
