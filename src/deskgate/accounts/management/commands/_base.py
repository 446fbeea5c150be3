from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError


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
