"""Session lookup for Deskgate users. Credentials are checked by the sign-in pipeline only."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from deskgate import rows
from deskgate.accounts import sessions
from deskgate.accounts.models import Client, User, UserSession

# Every signed-in request reads its user with their client: a fixed statement (issue 17).
_USER_AND_CLIENT = rows.Shape((User, "u"), (Client, "c"))
_FROM = f" FROM {User._meta.db_table} u JOIN {Client._meta.db_table} c ON c.id = u.client_id"
_SQL = f"SELECT {_USER_AND_CLIENT.columns()}{_FROM} WHERE u.id = %s"  # noqa: S608  # our tables
# The same, with the record of the session the user is read for (`sessions.current`).
_WITH_RECORD = rows.Shape((User, "u"), (Client, "c"), (UserSession, "s"))
_SQL_WITH_RECORD = (
    f"SELECT {_WITH_RECORD.columns()}{_FROM}"  # noqa: S608  # our tables
    f" LEFT JOIN {UserSession._meta.db_table} s ON s.session_key = %s AND s.user_id = u.id"
    " WHERE u.id = %s"
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
        key = sessions.record_wanted()
        if key:
            found = _WITH_RECORD.one(_SQL_WITH_RECORD, [key, pk])
        else:
            found = _USER_AND_CLIENT.one(_SQL, [pk])
        if found is None:
            return None
        user = cast(User, found[0])
        rows.attach(user, "client", found[1])
        if key:
            record = cast(UserSession | None, found[2])
            if record is not None:
                rows.attach(record, "user", user)
            sessions.with_record(user, key, record)
        return user if user.is_active else None
