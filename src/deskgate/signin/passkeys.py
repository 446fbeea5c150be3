"""Passkeys and security keys (WebAuthn Level 2): register, rename, remove, reset, and
sign in with one, as the second factor after the password or passwordless.

Every ceremony begins with a challenge stored here (`PasskeyChallenge`) and named to the
browser only by an opaque token in its session; the answer is checked against that stored
challenge, which one conditional DELETE takes, so it works once even under parallel
requests. The key's own signature, the origin and the RP ID (from DESKGATE_BASE_URL) are
checked by py_webauthn (`webauthn_rp`); the sign counter by one conditional UPDATE here.

A passkey's failures at the code step count like a wrong code (R7: `factors.check_factor`).
Nothing here logs or records a challenge or key material: the audit names the key.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import audit, notify, permissions
from deskgate.accounts.models import AuditAction, Level, User
from deskgate.signin import factors, webauthn_rp
from deskgate.signin.challenge import Answer
from deskgate.signin.factors import FactorCheck
from deskgate.signin.models import (
    Passkey,
    PasskeyChallenge,
    PasskeyPurpose,
    SecondFactor,
    SignInGuard,
)

CHALLENGE_LIFETIME = timedelta(minutes=5)
NAME_MAX = 60
REFUSED = _(
    "That passkey or security key could not sign you in. Try again, or use another way to sign in."
)


# -- what a user has -----------------------------------------------------------------------


def passkeys_of(user: User) -> list[Passkey]:
    return list(Passkey.objects.filter(user=user).order_by("created_at", "pk"))


def has_passkey(user: User) -> bool:
    return Passkey.objects.filter(user=user).exists()


def requires_uv(user: User) -> bool:
    """Admins' keys must verify the user (a PIN or a biometric) at registration."""
    return user.level == Level.ADMIN


# -- challenges ----------------------------------------------------------------------------


def issue_challenge(user: User | None, purpose: PasskeyPurpose) -> tuple[str, bytes]:
    """A new challenge for one ceremony; answer (token for the session, challenge)."""
    now = timezone.now()
    PasskeyChallenge.objects.filter(expires_at__lt=now).delete()
    row = PasskeyChallenge.objects.create(
        token=secrets.token_urlsafe(32),
        user=user,
        purpose=purpose,
        challenge=webauthn_rp.new_challenge(),
        created_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )
    return row.token, bytes(row.challenge)


def take_challenge(token: object, user: User | None, purpose: PasskeyPurpose) -> bytes | None:
    """The stored challenge this token names, for this user and purpose, if still live;
    taken by one conditional DELETE: of parallel requests, exactly one gets it."""
    if not isinstance(token, str) or not token:
        return None
    rows = PasskeyChallenge.objects.filter(
        token=token, purpose=purpose, expires_at__gt=timezone.now()
    )
    rows = rows.filter(user=user) if user is not None else rows.filter(user__isnull=True)
    row = rows.first()
    if row is None:
        return None
    taken, _by_model = PasskeyChallenge.objects.filter(
        pk=row.pk, expires_at__gt=timezone.now()
    ).delete()
    return bytes(row.challenge) if taken else None


# -- registration --------------------------------------------------------------------------


def may_register(user: User, *, proven: bool = False) -> str | None:
    """Why this user cannot add a passkey now, or None when they can. `proven`: the sign-in's
    enrolment step, whose attempt proved something besides the password (a code, SSO or the
    enrolment link), which stands in for the second factor a user with MFA Off lacks."""
    if not user.client.supports_mfa:
        return (
            f"Your company's release {user.client.release} has no MFA: passkeys and security "
            "keys come with release 25.x."
        )
    if not proven and not user.mfa_applies and not factors.has_strong_factor(user):
        return (
            "You have no second factor yet to prove it is you. Ask your admin to set your MFA "
            "to Email or SMS first, then add a passkey."
        )
    return None


def clean_name(raw: str) -> str:
    """A key's name as typed, trimmed; refused when empty, too long or with control
    characters (it goes into pages, Emails and the audit trail)."""
    name = " ".join(raw.split())
    if not name:
        raise ValidationError({"name": "Give the key a name, like “Work laptop”."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"Use at most {NAME_MAX} characters."})
    if re.search(r"[\x00-\x1f\x7f]", name):
        raise ValidationError({"name": "Use letters, digits and punctuation only."})
    return name


def default_name(user: User) -> str:
    return f"Security key {Passkey.objects.filter(user=user).count() + 1}"


def registration_options(user: User) -> tuple[str, str]:
    """Begin adding a key: answer (token for the session, options JSON for the browser)."""
    refusal = may_register(user)
    if refusal is not None:
        raise PermissionDenied(refusal)
    token, challenge = issue_challenge(user, PasskeyPurpose.REGISTER)
    options = webauthn_rp.registration_options(
        challenge=challenge,
        user_pk=user.pk,
        user_name=user.username,
        display_name=user.full_name or user.username,
        exclude=[
            bytes(c)
            for c in Passkey.objects.filter(user=user).values_list("credential_id", flat=True)
        ],
        require_uv=requires_uv(user),
    )
    return token, options


@dataclass(frozen=True)
class Added:
    passkey: Passkey
    recovery_codes: list[str]  # the first strong factor's ten codes, to show once; or []


def register(
    user: User, raw: str, *, token: object, name: str, by: audit.Actor, proven: bool = False
) -> Added:
    """Finish adding a key: the browser's answer checked against the stored challenge.
    Raises ValidationError (on "credential" or "name") with words for the page. `proven` as
    in `may_register`."""
    refusal = may_register(user, proven=proven)
    if refusal is not None:
        raise PermissionDenied(refusal)
    name = clean_name(name) if name.strip() else default_name(user)
    challenge = take_challenge(token, user, PasskeyPurpose.REGISTER)
    if challenge is None:
        raise ValidationError(
            {"credential": "This request to add a key expired or was used. Try again."}
        )
    try:
        made = webauthn_rp.verify_registration(
            raw, challenge=challenge, require_uv=requires_uv(user)
        )
    except webauthn_rp.Refused as exc:
        need = " Your key must check your PIN or fingerprint (admins)." if requires_uv(user) else ""
        raise ValidationError(
            {"credential": f"The key's answer could not be accepted.{need} Try again."}
        ) from exc
    now = timezone.now()
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one first factor at a time
        first = not factors.has_strong_factor(user)
        if Passkey.objects.filter(credential_id=made.credential_id).exists():
            raise ValidationError({"credential": "This key is added already."})
        passkey = Passkey.objects.create(
            user=user,
            credential_id=made.credential_id,
            public_key=made.public_key,
            sign_count=made.sign_count,
            transports=webauthn_rp.transports_of(raw),
            aaguid=made.aaguid,
            name=name,
            backed_up=made.backed_up,
            device_type=made.device_type,
            user_verified=made.user_verified,
            created_at=now,
        )
        audit.record(
            AuditAction.PASSKEY_ADDED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} added the passkey “{name}”",
            name=name,
            user_verified=made.user_verified,
            synced=made.backed_up,
        )
        notify.factor_event(
            user, format_lazy(_("the passkey “{name}” was added for sign-in"), name=name), by=by
        )
        codes = factors.new_recovery_codes(user, by=by, now=now) if first else []
    return Added(passkey, codes)


def _own(user: User, passkey_id: int) -> Passkey:
    """The user's own key by id; another user's (or no) key answers the same: not found."""
    passkey = Passkey.objects.filter(pk=passkey_id, user=user).first()
    if passkey is None:
        raise ValidationError(gettext("There is no such key on your account."))
    return passkey


def rename(user: User, passkey_id: int, name: str, *, by: audit.Actor) -> Passkey:
    """The user names one of their keys anew."""
    clean = clean_name(name)
    passkey = _own(user, passkey_id)
    passkey.name = clean
    passkey.save(update_fields=["name"])
    return passkey


def remove(user: User, passkey_id: int, *, by: audit.Actor) -> str:
    """The user removes one of their keys; answer its name. An admin's reset is `reset`."""
    if by.user is None or by.user.pk != user.pk:
        raise PermissionDenied(
            gettext("Only the user removes their own key; an admin resets them.")
        )
    passkey = _own(user, passkey_id)
    # The policy and level as stored now, not as this user object was loaded.
    stored = User.objects.select_related("client").get(pk=user.pk)
    refusal = factors.last_strong_factor_refusal(stored, factors.StrongFactor.PASSKEY)
    if refusal is not None:
        raise ValidationError(refusal)
    now = timezone.now()
    with transaction.atomic():
        if not Passkey.objects.filter(pk=passkey.pk).delete()[0]:
            raise ValidationError(gettext("There is no such key on your account."))
        factors.void_recovery_codes_if_last(user, now)
        audit.record(
            AuditAction.PASSKEY_REMOVED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"{user.label} removed the passkey “{passkey.name}”",
            name=passkey.name,
            reset=False,
        )
        notify.factor_event(
            user, format_lazy(_("the passkey “{name}” was removed"), name=passkey.name), by=by
        )
    return passkey.name


def reset(user: User, *, by: audit.Actor) -> int:
    """An admin removes all of a user's keys (an MFA setting: `user.reset_factors` in the
    permission table); the user adds them again. Answer how many there were."""
    permissions.check(by, permissions.Op.USER_RESET_FACTORS, user.client_id, user.level)
    now = timezone.now()
    with transaction.atomic():
        names = list(Passkey.objects.filter(user=user).values_list("name", flat=True))
        removed, _by_model = Passkey.objects.filter(user=user).delete()
        if not removed:
            return 0
        factors.void_recovery_codes_if_last(user, now)
        audit.record(
            AuditAction.PASSKEY_REMOVED,
            client=user.client,
            by=by,
            subject=user,
            summary=f"Passkeys of {user.label} reset by {by.label}: "
            + ", ".join(f"“{n}”" for n in names),
            names=names,
            reset=True,
        )
        notify.factor_event(
            user, format_lazy(_("your passkeys were reset by {who}"), who=by.label), by=by
        )
    return removed


# -- at sign-in ----------------------------------------------------------------------------


def signin_options(user: User | None) -> tuple[str, str]:
    """Begin a sign-in with a key: for a known user (the code step) their keys are listed;
    for nobody (passwordless) the browser offers its discoverable credentials. User
    verification is required for passwordless and for admins (as at registration)."""
    token, challenge = issue_challenge(user, PasskeyPurpose.SIGNIN)
    allow = []
    if user is not None:
        allow = [
            bytes(c)
            for c in Passkey.objects.filter(user=user).values_list("credential_id", flat=True)
        ]
    options = webauthn_rp.authentication_options(
        challenge=challenge, allow=allow, require_uv=user is None or requires_uv(user)
    )
    return token, options


def _refused(user: User, passkey: Passkey | None, why: str, *, by: audit.Actor) -> None:
    name = f" “{passkey.name}”" if passkey is not None else ""
    audit.record(
        AuditAction.PASSKEY_REFUSED,
        client=user.client,
        by=by,
        subject=user,
        summary=f"Passkey{name} of {user.label} refused: {why}",
        name=passkey.name if passkey is not None else "",
        why=why,
    )


def _use(passkey: Passkey, asserted: webauthn_rp.Asserted, now: datetime) -> bool:
    """Record the use with one conditional UPDATE that checks the sign counter: a key that
    counts must count up; a key that never counts (0, as synced passkeys do) stays at 0.
    False when the counter did not go up: a cloned key, or the same answer twice."""
    new = asserted.new_sign_count
    rows = Passkey.objects.filter(pk=passkey.pk)
    rows = rows.filter(Q(sign_count__lt=new)) if new > 0 else rows.filter(sign_count=0)
    return bool(rows.update(sign_count=new, last_used_at=now, backed_up=asserted.backed_up))


def verify_second_factor(
    pending_id: int,
    user: User,
    raw: str,
    *,
    token: object,
    by: audit.Actor,
    locked: factors.Locked | None = None,
) -> Answer:
    """The code step with a passkey: the answer to the challenge this browser was given,
    by one of the pending user's keys. With or without user verification it is the second
    factor, except for an admin, whose key must verify the user (as at registration);
    refusals count as wrong codes (R7). `locked`: as `factors.check_factor` takes it."""
    # Taken first, whatever follows (a lock, a wrong key): a challenge is never used twice.
    challenge = take_challenge(token, user, PasskeyPurpose.SIGNIN)

    def spend(pending_user: User, now: datetime) -> FactorCheck | tuple[FactorCheck, str]:
        if challenge is None:
            return FactorCheck.WRONG
        try:
            credential_id = webauthn_rp.credential_id_of(raw)
        except webauthn_rp.Refused:
            return FactorCheck.WRONG
        passkey = Passkey.objects.filter(user=pending_user, credential_id=credential_id).first()
        if passkey is None:  # unknown, or someone else's: the same answer
            return FactorCheck.WRONG
        try:
            asserted = webauthn_rp.verify_assertion(
                raw,
                challenge=challenge,
                public_key=bytes(passkey.public_key),
                require_uv=requires_uv(pending_user),
            )
        except webauthn_rp.Refused:
            return FactorCheck.WRONG
        if not _use(passkey, asserted, now):
            _refused(pending_user, passkey, "its sign counter did not go up (a cloned key?)", by=by)
            return FactorCheck.CLONED
        amr = webauthn_rp.key_amr(
            backed_up=asserted.backed_up,
            device_type=asserted.device_type,
            user_verified=asserted.user_verified,
        )
        return FactorCheck.OK, " ".join(amr)

    return factors.check_factor(
        pending_id,
        SecondFactor.PASSKEY,
        spend,
        by=by,
        what="passkey or security key",
        locked=locked,
    )


class Passwordless(StrEnum):
    OK = "ok"
    REFUSED = "refused"


@dataclass(frozen=True)
class PasswordlessAnswer:
    reason: Passwordless
    user: User | None = None
    amr: str = ""


def _locked(user: User, now: datetime) -> bool:
    guard = SignInGuard.objects.filter(user=user).first()
    if guard is None:
        return False
    return guard.code_lock.locked(now) or guard.password_lock.locked(now)


def verify_passwordless(raw: str, *, token: object, by: audit.Actor) -> PasswordlessAnswer:
    """A sign-in with a passkey alone (discoverable, user verified): both factors at once.
    Refused, with one answer whatever the reason, for an unknown key, a deactivated or
    locked user, a client without passwordless or MFA, a key that did not verify the user,
    a wrong origin or RP ID, a used or expired challenge, a sign counter that went back."""
    refused = PasswordlessAnswer(Passwordless.REFUSED)
    challenge = take_challenge(token, None, PasskeyPurpose.SIGNIN)
    if challenge is None:
        return refused
    try:
        credential_id = webauthn_rp.credential_id_of(raw)
    except webauthn_rp.Refused:
        return refused
    passkey = (
        Passkey.objects.select_related("user", "user__client")
        .filter(credential_id=credential_id)
        .first()
    )
    if passkey is None:
        return refused
    user = passkey.user
    now = timezone.now()
    client = user.client
    why = ""
    if not user.is_active:
        why = "the user is deactivated"
    elif not client.supports_mfa or not client.passwordless_enabled:
        why = "the company does not allow passwordless sign-in"
    elif _locked(user, now):
        why = "the user is locked"
    if why:
        _refused(user, passkey, why, by=by)
        return refused
    try:
        asserted = webauthn_rp.verify_assertion(
            raw, challenge=challenge, public_key=bytes(passkey.public_key), require_uv=True
        )
    except webauthn_rp.Refused:
        _refused(user, passkey, "its answer did not verify (or no user verification)", by=by)
        return refused
    handle = webauthn_rp.user_handle_of(raw)
    if handle is not None and handle != webauthn_rp.user_handle(user.pk):
        _refused(user, passkey, "its user handle is not this user's", by=by)
        return refused
    if not _use(passkey, asserted, now):
        _refused(user, passkey, "its sign counter did not go up (a cloned key?)", by=by)
        return refused
    amr = webauthn_rp.key_amr(
        backed_up=asserted.backed_up,
        device_type=asserted.device_type,
        user_verified=asserted.user_verified,
    )
    return PasswordlessAnswer(Passwordless.OK, user, " ".join(amr))
