"""Session lookup for Deskgate users. Credentials are checked by the sign-in pipeline only."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from deskgate import rows
from deskgate.accounts.models import Client, User

# Every signed-in request reads its user with their client: a fixed statement (issue 17).
_USER_AND_CLIENT = rows.Shape((User, "u"), (Client, "c"))
_SQL = (
    f"SELECT {_USER_AND_CLIENT.columns()} FROM {User._meta.db_table} u"  # noqa: S608  # our tables
    f" JOIN {Client._meta.db_table} c ON c.id = u.client_id WHERE u.id = %s"
)


class DeskgateBackend(BaseBackend):
    """Restores the user of a session; refuses inactive users, whose sessions end.

    `authenticate` always answers None: no path (Django's own login views included)
    may reach a session without the sign-in pipeline and the factor the user owes.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> User | None:
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        found = _USER_AND_CLIENT.one(_SQL, [pk])
        if found is None:
            return None
        user = cast(User, found[0])
        rows.attach(user, "client", found[1])
        return user if user.is_active else None
