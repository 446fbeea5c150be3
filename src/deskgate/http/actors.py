"""Who did it, from where: the audit actor of a request."""

from __future__ import annotations

from django.http import HttpRequest

from deskgate.accounts import audit
from deskgate.accounts.models import User


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a header a client can set never decides anything here.
    return request.META.get("REMOTE_ADDR") or None


def actor_for(request: HttpRequest, user: User | None = None) -> audit.Actor:
    return audit.Actor(user=user, ip=client_ip(request), via=audit.Via.WEB)
