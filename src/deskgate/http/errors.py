"""Deskgate's error pages: 404, 403, and the answer when something Deskgate depends on is
away (a 503 page, never a 500).

The 404 and 403 pages are ordinary pages with the menu. Django calls `server_error` (the
handler500) for any exception a view or middleware did not handle, while the exception is
being handled. A database or cache that does not answer is an outage, not a bug: the person
gets "briefly unavailable, try again in a minute" with `Retry-After`; anything else stays an
ordinary 500. Neither of those two touches the database, the session or the user: they are
rendered without the request, so without the menu.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
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


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The handler404: a page with the menu, saying so and offering a way back."""
    return render(request, "http/not_found.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The handler403, for a PermissionDenied no view answered itself (the guards do)."""
    reason = str(exception) or _("You do not have access to this page.")
    return render(request, "http/forbidden.html", {"reason": reason}, status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_outage(sys.exc_info()[1]):
        body = render_to_string("http/unavailable.html")  # no request: no context processors
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponseServerError(render_to_string("http/server_error.html"))
