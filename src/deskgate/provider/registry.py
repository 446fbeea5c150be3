"""The apps that sign in through Deskgate: registered and removed by operators.

The action layer of the provider: the commands (and any future page) call these, and
nothing else writes an `Application` or its `AppProfile`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from deskgate.accounts import audit
from deskgate.accounts.models import AuditAction, Client
from deskgate.provider.models import AppProfile

LOOPBACK_NAMES = {"localhost"}


@dataclass
class AppInput:
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    backchannel_logout_uri: str = ""
    public: bool = False
    clients: list[str] = field(default_factory=list)  # client names; empty: every client


@dataclass(frozen=True)
class Registered:
    application: Application
    client_secret: str | None  # shown once; stored hashed


def _through() -> tuple[str, str, str]:
    through = AppProfile.clients.through._meta
    return (
        str(through.db_table),
        str(through.get_field("appprofile").column),
        str(through.get_field("client").column),
    )


def _open_to_sql() -> str:
    table, profile, client = _through()
    # Open: no client listed (an app without a profile lists none either), or this one.
    return (
        f"SELECT NOT EXISTS(SELECT 1 FROM {table} WHERE {profile} = %s)"  # noqa: S608  # our tables
        f" OR EXISTS(SELECT 1 FROM {table} WHERE {profile} = %s AND {client} = %s)"
    )


_OPEN_TO = _open_to_sql()


def lists_clients_sql(app_id: str) -> str:
    """A select-list column for a statement that reads apps: whether the app with the id
    `app_id` (a column of that statement) lists the clients it is open to; its value goes
    to `note_lists_clients`."""
    table, profile, _ = _through()
    return f"EXISTS(SELECT 1 FROM {table} WHERE {profile} = {app_id})"  # noqa: S608  # our names


# On an app read with `lists_clients_sql`: whether it lists clients (False: open to all).
_LISTS_CLIENTS = "_deskgate_lists_clients"


def note_lists_clients(application: Application, lists: object) -> None:
    setattr(application, _LISTS_CLIENTS, bool(lists))


def open_to(application: Application, client_id: int) -> bool:
    """Whether the users of this client may sign in to the app (AppProfile.open_to), as one
    fixed statement: the authorization endpoint asks it on every request (issue 17). An
    app read with `lists_clients_sql` that lists none is open to every client without
    asking again. The profile's key is its app's."""
    if getattr(application, _LISTS_CLIENTS, True) is False:
        return True
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_TO, [application.pk, application.pk, client_id])
        (open_,) = cursor.fetchone()
    return bool(open_)


def issuer() -> str:
    return str(settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"])


def _loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def uri_problem(uri: str) -> str | None:
    """What is wrong with an app's URI, in an operator's words (None: nothing)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return f"{uri!r} is not a URL"
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return f"{uri!r} must be a full https:// address"
    if parts.scheme == "http" and not _loopback(parts.hostname):
        return f"{uri!r} must use https (plain http only on this machine: 127.0.0.1, localhost)"
    if parts.fragment:
        return f"{uri!r} must not have a #fragment"
    return None


def _check(data: AppInput) -> tuple[dict[str, list[str]], list[Client]]:
    errors: dict[str, list[str]] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = ["Give the app a name."]
    elif len(name) > 255:
        errors["name"] = ["The name is longer than 255 characters."]
    elif Application.objects.filter(name__iexact=name).exists():
        errors["name"] = [f"An app named {name} is registered already."]
    if not data.redirect_uris:
        errors["redirect_uri"] = ["Give at least one redirect URI."]
    for kind, uris in (
        ("redirect_uri", data.redirect_uris),
        ("post_logout_redirect_uri", data.post_logout_redirect_uris),
        (
            "backchannel_logout_uri",
            [data.backchannel_logout_uri] if data.backchannel_logout_uri else [],
        ),
    ):
        for uri in uris:
            if any(ch.isspace() for ch in uri):
                errors.setdefault(kind, []).append(f"{uri!r} must not contain spaces")
            elif (problem := uri_problem(uri)) is not None:
                errors.setdefault(kind, []).append(problem)
    clients = []
    for wanted in data.clients:
        found = Client.objects.filter(name__iexact=wanted.strip()).first()
        if found is None:
            errors.setdefault("client", []).append(f"There is no client named {wanted}.")
        else:
            clients.append(found)
    return errors, clients


def register_app(data: AppInput, *, by: audit.Actor) -> Registered:
    """Register an app (first-party: its users are not asked to consent). Raises
    ValidationError naming each wrong field; nothing is saved then."""
    errors, clients = _check(data)
    if errors:
        raise ValidationError(errors)
    secret = None if data.public else generate_client_secret()
    with transaction.atomic():
        application = Application(
            name=data.name.strip(),
            client_type=Application.CLIENT_PUBLIC
            if data.public
            else Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(data.redirect_uris),
            post_logout_redirect_uris=" ".join(data.post_logout_redirect_uris),
            skip_authorization=True,
            algorithm=Application.RS256_ALGORITHM,
            hash_client_secret=True,
            client_secret=secret or "",
        )
        application.save()
        profile = AppProfile.objects.create(
            application=application, backchannel_logout_uri=data.backchannel_logout_uri
        )
        profile.clients.set(clients)
        audit.record(
            AuditAction.APP_REGISTERED,
            client=None,
            by=by,
            summary=f"App {application.name} registered"
            + (f" for {', '.join(c.name for c in clients)}" if clients else " for every client"),
            app=application.name,
            client_id=application.client_id,
        )
    return Registered(application, secret)


def find_app(name_or_client_id: str) -> Application | None:
    wanted = name_or_client_id.strip()
    return (
        Application.objects.filter(client_id=wanted).first()
        or Application.objects.filter(name__iexact=wanted).first()
    )


def remove_app(application: Application, *, by: audit.Actor) -> None:
    """Remove an app: its tokens and grants go with it."""
    with transaction.atomic():
        name, client_id = application.name, application.client_id
        application.delete()
        audit.record(
            AuditAction.APP_REMOVED,
            client=None,
            by=by,
            summary=f"App {name} removed",
            app=name,
            client_id=client_id,
        )
