"""Cursor pagination: an opaque token naming the last row a page showed.

A cursor is the sort key of that row (for users `(full_name, id)`, for the audit trail
`(at, id)`), as base64url JSON. It carries no client: the query that reads it is always
filtered to the token's own client, so a cursor copied from another client shows nothing of
theirs. Rows added while a caller pages are not skipped or repeated before the cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

BAD = "This cursor is not one Deskgate gave; start again without `cursor`."


def encode(*key: Any) -> str:
    raw = json.dumps([k.isoformat() if isinstance(k, datetime) else k for k in key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, *types: type) -> tuple[Any, ...]:
    """The cursor's key, each part of the type given; ValidationError on `cursor` else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or len(parts) != len(types):
            raise ValueError
        key: list[Any] = []
        for part, kind in zip(parts, types, strict=True):
            if kind is datetime:
                moment = datetime.fromisoformat(str(part))
                if moment.tzinfo is None:
                    raise ValueError
                key.append(moment)
            elif kind is int:
                if not isinstance(part, int) or isinstance(part, bool):
                    raise ValueError
                key.append(part)
            else:
                if not isinstance(part, str):
                    raise ValueError
                key.append(part)
        return tuple(key)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ValidationError({"cursor": [BAD]}) from None


def take(rows: QuerySet[M], limit: int) -> tuple[list[M], bool]:
    """A page of `rows` (already ordered and filtered past the cursor), and whether more
    follow: one query, reading one row beyond the page."""
    found = list(rows[: limit + 1])
    return found[:limit], len(found) > limit
