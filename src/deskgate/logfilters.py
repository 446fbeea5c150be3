"""Logging filters: keep what users type into searches (a phone number, an address) out
of request logs."""

from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"(\b(?:GET|POST|HEAD|PUT|PATCH|DELETE|OPTIONS) [^ ?\"]*)\?[^ \"]*")


def _strip(value: object) -> object:
    return _QUERY.sub(r"\1?…", value) if isinstance(value, str) else value


class DropQueryStrings(logging.Filter):
    """Replace query strings in request lines with an ellipsis."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_strip(a) for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _QUERY.sub(r"\1?…", record.msg)
        return True
