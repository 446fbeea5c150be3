from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError

from deskgate.accounts.models import Client, Level, MfaMethod, User


def refusal(exc: ValidationError | PermissionDenied) -> CommandError:
    """Turn an action's refusal into the command's error: the rule's words, per field."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        lines = [
            f"{field.replace('_', '-')}: {message}" if field != "__all__" else message
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    elif isinstance(exc, ValidationError):
        lines = list(exc.messages)
    else:
        lines = [str(exc)]
    return CommandError("refused: " + "\n".join(lines))


def client_named(name: str) -> Client:
    """The client called `name` (any case), or the command's refusal."""
    client = Client.objects.filter(name__iexact=name.strip()).first()
    if client is None:
        raise CommandError(f"refused: there is no client named {name}.")
    return client


def user_of(client: Client, username: str) -> User:
    """`client`'s user with that user name (any case), or the command's refusal."""
    user = (
        User.objects.select_related("client")
        .filter(client=client, username__iexact=username.strip())
        .first()
    )
    if user is None:
        raise CommandError(f"refused: {client.name} has no user named {username}.")
    return user


def described(user: User) -> str:
    """A saved user as the commands report them: level, MFA with the destination masked
    (never the whole number), and Inactive when so."""
    return (
        f"{user.label} in {user.client.name}: {Level(user.level).label}, "
        f"MFA {MfaMethod(user.mfa_method).label}"
        + (f" to {user.masked_mfa_destination()}" if user.mfa_applies else "")
        + ("" if user.is_active else ", Inactive")
    )
