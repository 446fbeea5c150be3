"""The answer when something Deskgate depends on is away: a 503 page, never a 500.

Django calls `server_error` (the handler500) for any exception a view or middleware did not
handle, while the exception is being handled. A database or cache that does not answer is
an outage, not a bug: the person gets "briefly unavailable, try again in a minute" with
`Retry-After`; anything else stays an ordinary 500. Neither page touches the database,
the session or the user.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A connection refused, lost or timed out; SQLite's "database is locked" too.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 60


def is_outage(exc: BaseException | None) -> bool:
    """Whether this exception means a part Deskgate depends on does not answer."""
    while exc is not None:
        if isinstance(exc, UNAVAILABLE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def server_error(request: HttpRequest) -> HttpResponse:
    if is_outage(sys.exc_info()[1]):
        body = render_to_string("http/unavailable.html")  # no request: no context processors
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(render_to_string("http/server_error.html"))
