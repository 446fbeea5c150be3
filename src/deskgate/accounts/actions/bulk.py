"""Actions on many users at once: R8's bulk MFA change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import audit, hooks, notify, permissions, rules
from deskgate.accounts.actions._common import RACED, lock_client
from deskgate.accounts.actions.users import UserInput, apply_state, mfa_event, validate_user
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, MfaMethod, User
from deskgate.accounts.permissions import Op


@dataclass
class BulkOutcome:
    user: User
    applied: bool
    reason: str
    changed: bool = False  # applied, and not already so


ALREADY_RUN = _(
    "This change was already made ({summary}); nothing was done twice. The audit trail "
    "has the details."
)


def bulk_change_mfa_method(
    client: Client,
    users: Iterable[User],
    method: str,
    *,
    by: Actor,
    dry_run: bool = False,
    key: uuid.UUID | None = None,
) -> list[BulkOutcome]:
    """R8: set the method for many users; say per user what was applied or refused and why.

    One transaction with the client locked: each user is checked against every rule in
    turn (a user accepted earlier in the batch counts for the next checks, since R4 looks
    at every active user's destination whatever their method), then the accepted users
    are written, audited and their codes and devices voided together.

    `dry_run`: the same checks in the same order, answering the same outcomes, but nothing
    is written, audited or sent (the page's "what will this do?" step).
    `key`: the confirming form's idempotency key. A run whose key was already used changes
    nothing and raises a ValidationError (code "already_run"): a double-click, or the same
    form sent twice, runs once. The check is made with the client's row locked, so two
    copies sent at the same moment are counted one after the other.
    """
    permissions.check(by, Op.USERS_MFA_BULK, client.pk)  # managers: no MFA settings at all
    outcomes: list[BulkOutcome] = []
    label = MfaMethod(method).label if method in MfaMethod.values else method
    wanted = [u.pk for u in users if u.client_id == client.pk]  # never another client's
    with notify.batched(), transaction.atomic():  # notices go out together at the end
        rows = User.objects.select_related("client")
        if not dry_run:  # a preview reads; it need not hold anyone's writes back
            client = lock_client(client)
            rows = rows.select_for_update()
            if key is not None:
                _claim(client, key)
        stored = {u.pk: u for u in rows.filter(client=client, pk__in=wanted)}
        directory = rules.Directory.snapshot(client)  # R4's data, read once for the batch
        accepted: list[tuple[User, rules.UserState]] = []
        for pk in wanted:
            user = stored.get(pk)
            if user is None:
                continue
            user.client = client  # one client object: its SSO settings are read once
            if user.mfa_method == method:
                outcomes.append(BulkOutcome(user, True, f"Already {label}."))
                continue
            data = UserInput.of(user)
            data.mfa_method = method
            try:
                permissions.check(by, Op.USER_MFA, client.pk, user.level)
                now = rules.UserState.of(user)
                state = validate_user(
                    client,
                    data,
                    user_id=pk,
                    stored_username=user.username,
                    directory=directory,
                    before=now,
                )
                if by.user is not None and by.user.pk == pk:
                    own = rules.check_own_sign_in_settings(now, state)
                    if own:
                        raise ValidationError(own)
            except ValidationError as exc:
                outcomes.append(BulkOutcome(user, False, " ".join(exc.messages)))
                continue
            except PermissionDenied as exc:
                outcomes.append(BulkOutcome(user, False, str(exc)))
                continue
            before = rules.UserState.of(user)
            apply_state(user, state)
            directory.record(pk, user.label, before, state)
            accepted.append((user, before))
            outcomes.append(BulkOutcome(user, True, f"MFA set to {label}.", changed=True))
        if dry_run:
            return outcomes
        _write_many(accepted, by=by)
        applied = sum(o.applied for o in outcomes)
        # Inside the transaction: the next run with this key, waiting for the client's row,
        # finds it (`_claim`).
        audit.record(
            AuditAction.USER_BULK_MFA,
            client=client,
            by=by,
            summary=f"Bulk MFA {label}: {applied} applied, {len(outcomes) - applied} refused",
            method=method,
            applied=applied,
            refused=len(outcomes) - applied,
            key=str(key) if key is not None else None,
        )
    return outcomes


def _claim(client: Client, key: uuid.UUID) -> None:
    """Refuse a run whose idempotency key a finished run of this client recorded. Called
    with the client's row locked; bulk runs are few, so the client's bulk events are few."""
    earlier = (
        AuditEvent.objects.filter(client=client, action=AuditAction.USER_BULK_MFA)
        .filter(detail__key=str(key))
        .order_by("-at")
        .first()
    )
    if earlier is not None:
        summary = earlier.summary.removeprefix("Bulk MFA ")
        raise ValidationError(ALREADY_RUN.format(summary=summary), code="already_run")


def _write_many(accepted: list[tuple[User, rules.UserState]], *, by: Actor) -> None:
    """Save users whose MFA method changed, already checked, in a few statements."""
    if not accepted:
        return
    now = timezone.now()
    changed = [user for user, _ in accepted]
    for user in changed:
        user.updated_at = now
    by_method: dict[str, list[int]] = {}
    for user in changed:
        by_method.setdefault(user.mfa_method, []).append(user.pk)
    try:
        with transaction.atomic():
            for method, ids in by_method.items():  # only the method changes: one UPDATE
                User.objects.filter(pk__in=ids).update(mfa_method=method, updated_at=now)
    except IntegrityError as exc:
        raise ValidationError(RACED) from exc
    AuditEvent.objects.bulk_create(
        [mfa_event(user, before, by=by) for user, before in accepted], batch_size=500
    )
    hooks.sign_in().factor_changed(changed)
    for user, before in accepted:
        if user.is_active:
            notify.sign_in_settings_changed(user, before, by=by)
