"""The rules every write of a user obeys (R1, R3, R4, SSO's one Email, the last admin).

`check_user` answers, for a proposed state of one user, what is wrong with it, keyed by
the form field to show it on. The actions call it inside the transaction that writes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from typing import Self

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import contact
from deskgate.accounts.models import EMAIL_REQUIRED_LEVELS, Client, Level, MfaMethod, User


@dataclass
class UserFields:
    """The seven fields of a user that people edit (the form, the command line, the JSON
    body): listed here once. `USER_FIELDS` names them for the code that reads them all."""

    username: str
    full_name: str
    level: str = Level.AGENT
    email: str = ""
    work_phone: str = ""
    mfa_method: str = MfaMethod.OFF
    is_active: bool = True

    @classmethod
    def of(cls, user: User) -> Self:
        return cls(**{name: getattr(user, name) for name in USER_FIELDS})


USER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UserFields))


@dataclass
class UserState(UserFields):
    """A user's fields as they would be after a write (already cleaned)."""


Errors = dict[str, list[str]]


@dataclass(frozen=True)
class Holder:
    """Another active user holding an address or number, and what they use it for."""

    pk: int
    label: str
    mfa_method: str


HOLDERS_SHOWN = 50  # enough to find the one that uses it for MFA among those who share it


class Directory:
    """Who among a client's active users has an Email or Work phone (the data R4 needs).

    By default each question is one indexed query. `Directory.snapshot` answers from one
    read of the client's active users instead, for checking many users in one transaction
    (bulk); `record` keeps it true as the batch accepts changes.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._emails: dict[str, dict[int, Holder]] | None = None
        self._phones: dict[str, dict[int, Holder]] | None = None

    @classmethod
    def snapshot(cls, client: Client) -> Directory:
        directory = cls(client)
        directory._emails, directory._phones = defaultdict(dict), defaultdict(dict)
        rows = User.objects.filter(client=client, is_active=True).values_list(
            "pk", "full_name", "username", "email", "work_phone", "mfa_method"
        )
        for pk, full_name, username, email, phone, method in rows:
            directory._file(pk, f"{full_name} ({username})", email, phone, method)
        return directory

    def _file(self, pk: int, label: str, email: str, phone: str, method: str) -> None:
        assert self._emails is not None and self._phones is not None  # noqa: S101
        holder = Holder(pk, label, method)
        if email:
            self._emails[email.lower()][pk] = holder
        if phone:
            self._phones[phone][pk] = holder

    def record(self, pk: int, label: str, before: UserState, after: UserState) -> None:
        """A change the batch accepted: the snapshot answers as the database will."""
        if self._emails is None or self._phones is None:
            return
        self._emails.get(before.email.lower(), {}).pop(pk, None)
        self._phones.get(before.work_phone, {}).pop(pk, None)
        if after.is_active:
            self._file(pk, label, after.email, after.work_phone, after.mfa_method)

    def with_email(self, email: str, *, exclude: int | None) -> list[Holder]:
        if self._emails is not None:
            found = self._emails.get(email.lower(), {})
            return [h for pk, h in sorted(found.items()) if pk != exclude][:HOLDERS_SHOWN]
        # Lower(email) = lower(...) so the (lower(email), client) index serves it.
        rows = self._others(exclude).annotate(email_lower=Lower("email"))
        return self._holders(rows.filter(email_lower=email.lower()))

    def with_phone(self, phone: str, *, exclude: int | None) -> list[Holder]:
        if self._phones is not None:
            found = self._phones.get(phone, {})
            return [h for pk, h in sorted(found.items()) if pk != exclude][:HOLDERS_SHOWN]
        return self._holders(self._others(exclude).filter(work_phone=phone))

    def _others(self, exclude: int | None) -> QuerySet[User]:
        rows = User.objects.filter(client=self.client, is_active=True)
        return rows.exclude(pk=exclude) if exclude else rows

    @staticmethod
    def _holders(rows: QuerySet[User]) -> list[Holder]:
        values = rows.order_by("pk").values_list("pk", "full_name", "username", "mfa_method")
        return [
            Holder(pk, f"{name} ({username})", m)
            for pk, name, username, m in values[:HOLDERS_SHOWN]
        ]


def sso_mandatory(client: Client) -> bool:
    """The client signs in only through SSO (its SSO settings say so)."""
    # Reverse one-to-one: no query when the client was loaded with select_related("sso").
    config = getattr(client, "sso", None)
    return bool(config is not None and config.mandatory)


def sso_configured(client: Client) -> bool:
    """The client has SSO set up (mandatory or not): it finds people by their Email."""
    return getattr(client, "sso", None) is not None


def check_user(
    client: Client,
    state: UserState,
    *,
    user_id: int | None = None,
    stored_username: str | None = None,
    directory: Directory | None = None,
    before: UserState | None = None,
) -> Errors:
    """Every rule a user's state must meet; an empty answer means the write may go ahead.

    `stored_username`: the user's name as saved; when unchanged it need not be looked up.
    `before`: the user as stored (None for a new one), for rules about what a write adds.
    """
    errors: Errors = defaultdict(list)
    if not state.full_name.strip():
        errors["full_name"].append(gettext("Full name is mandatory."))
    if state.level not in Level.values:
        errors["level"].append(gettext("Choose a level: Admin, Manager, Team leader or Agent."))
    if state.level in EMAIL_REQUIRED_LEVELS and not state.email:
        errors["email"].append(
            gettext("Email is mandatory for a %(level)s.")
            % {"level": Level(state.level).label.lower()}
        )
    elif not state.email and sso_mandatory(client):
        errors["email"].append(
            gettext(
                "Email is mandatory: %(client)s signs in through SSO, which finds users by Email."
            )
            % {"client": client.name}
        )
    if state.username and state.username != stored_username:
        # lower(username) = lower(...) so the unique lower(username) index serves it (iexact
        # is UPPER() on PostgreSQL: a scan of every user, 23 ms at 100,000 users).
        taken = User.objects.filter(Exact(Lower("username"), state.username.lower()))
        if user_id:
            taken = taken.exclude(pk=user_id)
        if taken.exists():
            errors["username"].append(
                gettext(
                    "The user name %(username)s is already taken; user names are unique across the "
                    "platform."
                )
                % {"username": state.username}
            )
    _check_mfa(client, state, errors)
    if state.is_active:
        directory = directory or Directory(client)
        _check_one_recipient(directory, state, user_id, errors)
        _check_sso_email(client, directory, state, before, user_id, errors)
    return dict(errors)


def _check_sso_email(
    client: Client,
    directory: Directory,
    state: UserState,
    before: UserState | None,
    user_id: int | None,
    errors: Errors,
) -> None:
    """SSO finds the one active user with the provider's Email (sso.flows): a second active
    user with that address makes the first one's SSO sign-in fail as ambiguous, which a
    manager could do to an admin. So in a client with SSO an Email is one active user's.

    Only a write that adds the address to the client's active users is refused (a new
    user, a changed Email, a user made active): where SSO was set up over addresses
    already shared, their holders can still be edited and given addresses of their own.
    Serialised like R4, by the client's row lock around the check and the write.
    """
    if not state.email or not sso_configured(client):
        return
    adds = before is None or not before.is_active or before.email.lower() != state.email.lower()
    if not adds:
        return
    holders = directory.with_email(state.email, exclude=user_id)
    if holders:
        errors["email"].append(
            gettext(
                "%(client)s signs in through SSO, which finds people by Email: %(email)s is "
                "already "
                "the Email of %(labels)s, so SSO could not tell them apart. Give this user an "
                "address of their own."
            )
            % {"client": client.name, "email": state.email, "labels": _labels(holders)}
        )


def check_keeps_an_admin(
    client: Client, before: UserState, after: UserState, *, user_id: int, label: str
) -> Errors:
    """A client keeps an active admin: only admins change admins and the settings, so a
    write that deactivates or demotes the last one would leave nobody able to.

    Call it inside the write's transaction with the client's row locked: every write of a
    user of the client waits for that lock, so two admins stepping down at the same moment
    are counted one after the other (and the second is refused).
    """
    was_admin = before.is_active and before.level == Level.ADMIN
    if not was_admin or (after.is_active and after.level == Level.ADMIN):
        return {}
    others = User.objects.filter(client=client, level=Level.ADMIN, is_active=True)
    if others.exclude(pk=user_id).exists():
        return {}
    return no_admin_left(client, after, label=label)


def no_admin_left(client: Client, after: UserState, *, label: str) -> Errors:
    """The refusal of a write that would leave `client` without an active admin."""
    field = "employment" if not after.is_active else "level"
    return {
        field: [
            f"{client.name} would have no active admin left: {label} is the last one, and "
            "only an admin can change admins and the company's settings. Make another user "
            "an admin first."
        ]
    }


OWN_SIGN_IN_SETTINGS = {
    "email": _(
        "Change your own Email under Your account > Change Email or Work phone: it asks for "
        "your password and confirms the new address with a code."
    ),
    "work_phone": _(
        "Change your own Work phone under Your account > Change Email or Work phone: it asks "
        "for your password and confirms the new number with a code."
    ),
    "mfa_method": _(
        "Change your own MFA method through another admin: how you prove who you are "
        "cannot be changed from your own signed-in session alone."
    ),
}


def check_own_sign_in_settings(before: UserState, after: UserState) -> Errors:
    """An admin or manager editing themselves through the admin pages (or bulk) may not
    change what proves who they are: a stolen session would take the account over. Their
    own pages change those after the current password and a code to the new destination."""
    return {
        name: [str(message)]
        for name, message in OWN_SIGN_IN_SETTINGS.items()
        if getattr(before, name) != getattr(after, name)
    }


NOT_ON_ONESELF_HERE = _(
    "Change your own password on Your account > Change password: it asks for the current one."
)


def _check_mfa(client: Client, state: UserState, errors: Errors) -> None:
    method = state.mfa_method
    if method not in MfaMethod.values:
        errors["mfa_method"].append(gettext("Choose MFA Off, Email or SMS."))
        return
    if method == MfaMethod.OFF:
        return
    if not client.supports_mfa:  # R1
        errors["mfa_method"].append(client.mfa_unavailable_reason)
        return
    if method == MfaMethod.EMAIL and not state.email:  # R3
        errors["email"].append(gettext("Email MFA sends the code to the Email field: fill it in."))
    if method == MfaMethod.SMS:
        if not state.work_phone:
            errors["work_phone"].append(
                gettext("SMS MFA sends the code to the Work phone field: fill in a mobile number.")
            )
        elif not contact.is_mobile(state.work_phone):
            errors["work_phone"].append(
                gettext(
                    "%(number)s is not a mobile number, so it cannot receive an SMS code. "
                    "Enter a mobile number or choose Email."
                )
                % {"number": contact.format_phone(state.work_phone)}
            )
        elif not client.sms_allowed_to(state.work_phone):
            errors["work_phone"].append(
                gettext(
                    "%(client)s sends SMS codes only to numbers in %(countries)s; %(number)s is a "
                    "%(region)s number. Choose Email, or ask an admin to allow that country "
                    "under Settings."
                )
                % {
                    "client": client.name,
                    "countries": ", ".join(client.sms_country_list),
                    "number": contact.format_phone(state.work_phone),
                    "region": contact.region_of(state.work_phone) or "foreign",
                }
            )


def _check_one_recipient(
    directory: Directory, state: UserState, user_id: int | None, errors: Errors
) -> None:
    """R4 from both sides: this user's destination, and the destinations others use."""
    if state.email:
        holders = directory.with_email(state.email, exclude=user_id)
        if state.mfa_method == MfaMethod.EMAIL:
            if holders:
                errors["email"].append(
                    gettext(
                        "A code must reach exactly one person, but %(email)s is also the Email of "
                        "%(labels)s. Give this user an address of their own, or choose SMS."
                    )
                    % {"email": state.email, "labels": _labels(holders)}
                )
        else:
            users = [h for h in holders if h.mfa_method == MfaMethod.EMAIL]
            if users:
                errors["email"].append(
                    gettext(
                        "%(email)s receives the Email MFA codes of %(labels)s; a code must reach "
                        "exactly one person. Use another address."
                    )
                    % {"email": state.email, "labels": _labels(users)}
                )
    if state.work_phone:
        holders = directory.with_phone(state.work_phone, exclude=user_id)
        shown = contact.format_phone(state.work_phone)
        if state.mfa_method == MfaMethod.SMS:
            if holders:
                errors["work_phone"].append(
                    gettext(
                        "A code must reach exactly one person, but %(shown)s is also the Work "
                        "phone of %(labels)s. Give this user a number of their own, or choose "
                        "Email."
                    )
                    % {"shown": shown, "labels": _labels(holders)}
                )
        else:
            users = [h for h in holders if h.mfa_method == MfaMethod.SMS]
            if users:
                errors["work_phone"].append(
                    gettext(
                        "%(shown)s receives the SMS MFA codes of %(labels)s; a code must reach "
                        "exactly one person. Use another number."
                    )
                    % {"shown": shown, "labels": _labels(users)}
                )


def _labels(holders: list[Holder]) -> str:
    shown = ", ".join(h.label for h in holders[:5])
    more = len(holders) - 5
    if more <= 0:
        return shown
    return ngettext("%(shown)s and %(count)d more", "%(shown)s and %(count)d more", more) % {
        "shown": shown,
        "count": more,
    }


def users_matching(client: Client, query: str) -> Q:
    """The User list search condition: name, user name, email or phone, as typed."""
    q = " ".join(query.split()).casefold()
    digits = "".join(ch for ch in q if ch.isdigit())
    cond = Q(search_key__contains=q)
    if digits and len(digits) >= 3 and all(ch.isdigit() or ch in " +-()" for ch in q):
        # Typed nationally ("040 123 4567"): the stored number has the country code instead.
        cond |= Q(search_key__contains=digits) | Q(search_key__contains=digits.lstrip("0"))
    return cond


def sso_requires_idp_mfa(client: Client) -> bool:
    """The client's SSO asks for our code unless the provider says it did MFA itself."""
    # Reverse one-to-one, as in sso_mandatory: the sign-in app asks here, not sso.models.
    config = getattr(client, "sso", None)
    return bool(config is not None and config.require_idp_mfa)
