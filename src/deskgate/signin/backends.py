"""Session lookup for Deskgate users. Credentials are checked by the sign-in pipeline only."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from deskgate.accounts.models import User


class DeskgateBackend(BaseBackend):
    """Restores the user of a session; refuses inactive users, whose sessions end.

    `authenticate` always answers None: no path (Django's own login views included)
    may reach a session without the sign-in pipeline and the factor the user owes.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> User | None:
        user = User.objects.select_related("client").filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
