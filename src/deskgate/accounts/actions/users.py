"""Actions on one user: create, edit, change one field, unlock, forget devices, end sessions.

`write_user` is the one place an existing user's row changes: it locks the client and the user,
validates every rule against the row as stored, saves, audits and voids the factor state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from deskgate import rows
from deskgate.accounts import audit, contact, hooks, notify, permissions, rules, sessions
from deskgate.accounts.actions import privacy
from deskgate.accounts.actions._common import RACED, lock_client
from deskgate.accounts.actions.passwords import check_password
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, Level, MfaMethod, User
from deskgate.accounts.permissions import Op


@dataclass
class DirectoryAttributes:
    """What a directory keeps on a user for its own matching and reports (SCIM `externalId`,
    the enterprise extension's `employeeNumber` and `department`). Deskgate decides nothing
    by them; they are checked like other text an admin types and shown on the user page."""

    external_id: str = ""
    employee_number: str = ""
    department: str = ""

    LIMITS = {"external_id": 255, "employee_number": 64, "department": 200}
    LABELS = {
        "external_id": "External id",
        "employee_number": "Employee number",
        "department": "Department",
    }

    @classmethod
    def of(cls, user: User) -> DirectoryAttributes:
        return cls(**{name: getattr(user, name) for name in cls.LIMITS})

    def cleaned(self) -> DirectoryAttributes:
        """The values as kept (runs of whitespace made one), or ValidationError by field."""
        errors: dict[str, list[str]] = {}
        values: dict[str, str] = {}
        for name, limit in self.LIMITS.items():
            try:
                values[name] = rules.clean_name(getattr(self, name), self.LABELS[name], limit)
            except ValidationError as exc:
                errors[name] = list(exc.messages)
        if errors:
            raise ValidationError(errors)
        return DirectoryAttributes(**values)


@dataclass
class UserInput(rules.UserFields):
    """A user's fields as typed (in a form, a JSON body or on the command line).

    `directory`: the directory's attributes to set; None keeps them as stored (a page's
    edit never clears what a directory keeps)."""

    directory: DirectoryAttributes | None = None


def _apply_directory(user: User, attributes: DirectoryAttributes | None) -> list[str]:
    """Set the directory's attributes that differ on `user` (not saved); answer their names."""
    if attributes is None:
        return []
    kept = attributes.cleaned()
    changed = [n for n in DirectoryAttributes.LIMITS if getattr(user, n) != getattr(kept, n)]
    for name in changed:
        setattr(user, name, getattr(kept, name))
    return changed


@dataclass
class UserSaved:
    user: User
    warnings: list[str] = field(default_factory=list)


# --- checking and applying a user's fields -------------------------------------------------


def _clean(client: Client, data: UserInput) -> tuple[rules.UserState, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}

    def cleaned(name: str, fn: Callable[[str], str], raw: str) -> str:
        try:
            return str(fn(raw))
        except ValidationError as exc:
            errors[name] = list(exc.messages)
            return ""

    state = rules.UserState(
        username=cleaned("username", contact.clean_username, data.username),
        full_name=cleaned("full_name", rules.clean_full_name, data.full_name),
        level=data.level,
        is_active=data.is_active,
        email=cleaned("email", rules.clean_email, data.email),
        work_phone=cleaned(
            "work_phone",
            lambda raw: contact.clean_work_phone(raw, client.default_country),
            data.work_phone,
        ),
        mfa_method=data.mfa_method,
    )
    return state, errors


def validate_user(
    client: Client,
    data: UserInput,
    *,
    user_id: int | None,
    stored_username: str | None = None,
    directory: rules.Directory | None = None,
    before: rules.UserState | None = None,
) -> rules.UserState:
    """`data` cleaned and checked against every rule, or ValidationError keyed by field."""
    state, errors = _clean(client, data)
    found = rules.check_user(
        client,
        state,
        user_id=user_id,
        stored_username=stored_username,
        directory=directory,
        before=before,
    )
    for name, messages in found.items():
        # A field that did not parse has said what is wrong with it already.
        if name not in errors:
            errors[name] = messages
    if errors:
        raise ValidationError(errors)
    return state


def apply_state(user: User, state: rules.UserState) -> list[str]:
    """Set the fields that differ on `user` (not saved); answer their names."""
    changed = [name for name in rules.USER_FIELDS if getattr(user, name) != getattr(state, name)]
    for name in changed:
        setattr(user, name, getattr(state, name))
    user.search_key = user.build_search_key()
    return changed


def _save(user: User, fields: Iterable[str]) -> None:
    try:
        with transaction.atomic():
            user.save(update_fields=[*fields, "search_key", "updated_at"])
    except IntegrityError as exc:
        # The constraints back the rules up; reaching one means a rule was raced.
        raise ValidationError(RACED) from exc


# A user before they exist, holding no address: the "before" of R4's snapshot for a new one.
NOBODY = rules.UserState(username="", full_name="", is_active=False)


# --- create, edit ---------------------------------------------------------------------------


def create_user(
    client: Client,
    data: UserInput,
    *,
    by: Actor,
    password: str | None = None,
    temporary_password: bool = True,
) -> UserSaved:
    """Create a user of `client`. Their first password is temporary unless said otherwise.

    An empty `data.mfa_method` means the creating door chose none: the user gets the
    method the client's settings give new users of their level (`Client.new_user_mfa`),
    else Off. That method obeys every rule like a chosen one; when the user's fields cannot
    take it (SMS without a mobile Work phone, say), the creation is refused with the rule's
    words and a line saying the method came from the settings: choosing a method
    explicitly (Off included) creates the user.
    """
    permissions.check(by, Op.USER_CREATE, client.pk, data.level)
    if data.mfa_method and data.mfa_method != settings_method(client, data.level):
        # Chosen by the door, other than the client's settings give: an MFA setting.
        permissions.check(by, Op.USER_MFA, client.pk, data.level)
    with transaction.atomic():
        client = lock_client(client)
        given = ""
        if not data.mfa_method:
            given = new_user_mfa_for(client, data.level)
            data = replace(data, mfa_method=given or MfaMethod.OFF)
        try:
            state = validate_user(client, data, user_id=None)
        except ValidationError as exc:
            raise from_settings(exc, client, data.level, given) from None
        user = User(client=client)
        apply_state(user, state)
        _apply_directory(user, data.directory)
        if password:
            check_password(user, password)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.must_change_password = temporary_password
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise ValidationError(RACED) from exc
        created_event(user, by=by, given=given).save()
    warnings = rules.user_template_warnings(client, state, user_label=user.label)
    return UserSaved(user, warnings)


def created_event(user: User, *, by: Actor, given: str) -> AuditEvent:
    """The audit event of a created user; `given`: the method the client's settings gave."""
    return audit.build(
        AuditAction.USER_CREATED,
        client=user.client,
        by=by,
        subject=user,
        summary=f"Created {user.label} as {Level(user.level).label}"
        + (f" with {MfaMethod(given).label} MFA from the settings" if given else ""),
        level=user.level,
        mfa_method=user.mfa_method,
        mfa_from_settings=bool(given),
        email=contact.mask_email(user.email),
        work_phone=contact.mask_phone(user.work_phone),
        active=user.is_active,
    )


def new_user_mfa_for(client: Client, level: str) -> str:
    """The MFA method the client's settings give a new user of `level`; "" when they say
    nothing for it (or MFA does not exist for the client, R1)."""
    method = (client.new_user_mfa or {}).get(level, "")
    if not client.supports_mfa or method not in MfaMethod.values:
        return ""
    return str(method)


def settings_method(client: Client, level: str) -> str:
    """The method a new user of `level` gets when the door chooses none."""
    return new_user_mfa_for(client, level) or MfaMethod.OFF


def from_settings(exc: ValidationError, client: Client, level: str, given: str) -> ValidationError:
    """A refusal of a method the settings gave (not one the door chose) says so."""
    if not given or given == MfaMethod.OFF or not hasattr(exc, "error_dict"):
        return exc
    errors = exc.message_dict
    if not any(name in errors for name in ("mfa_method", "email", "work_phone")):
        return exc
    label = Level(level).label.lower() if level in Level.values else level
    errors.setdefault("mfa_method", []).insert(
        0,
        f"The settings give new {label}s {MfaMethod(given).label} MFA, which this user cannot "
        "take yet (see below). Fill in what it needs, or choose the MFA method for this user.",
    )
    return ValidationError(errors)


def update_user(user: User, data: UserInput, *, by: Actor) -> UserSaved:
    """Save an edit of a user's details, contact information, MFA and employment."""
    permissions.check(by, Op.USER_CHANGE, user.client_id, user.level, data.level)
    return write_user(user, by=by, build=lambda current: data, recheck=True)


def stored_with(**changes: object) -> Callable[[User], UserInput]:
    """A `build` for `write_user`: the user's fields as stored now, with `changes` made.

    The caller's copy of the user may predate someone else's edit; building the input from
    it would silently undo that edit, so the input is read from the locked row instead.
    """

    def build(current: User) -> UserInput:
        data = UserInput.of(current)
        for name, value in changes.items():
            setattr(data, name, value)
        return data

    return build


def change_user(user: User, *, by: Actor, **changes: object) -> UserSaved:
    """Change some fields and keep the others as they are stored now."""
    permissions.check(by, Op.USER_CHANGE, user.client_id, user.level)
    return write_user(user, by=by, build=stored_with(**changes), recheck=True)


def change_mfa_method(user: User, method: str, *, by: Actor) -> UserSaved:
    """Set one user's MFA method (Off, Email or SMS), keeping every other field."""
    permissions.check(by, Op.USER_MFA, user.client_id, user.level)
    return change_user(user, by=by, mfa_method=method)


def set_user_active(user: User, active: bool, *, by: Actor) -> UserSaved:
    """Set a user Active or Inactive; deactivation ends their sessions."""
    permissions.check(by, Op.USER_DEACTIVATE, user.client_id, user.level)
    return change_user(user, by=by, is_active=active)


def write_user(
    user: User,
    *,
    by: Actor,
    build: Callable[[User], UserInput],
    recheck: bool,
) -> UserSaved:
    """The one place a user's row changes: lock, validate every rule, save, audit, void.

    `build` makes the input from the user's row as locked. `recheck`: check again, with the
    actor and the user as stored now, that the actor may manage the user (False for a
    user's own change, which their own pages authorise).
    """
    with transaction.atomic():
        client = lock_client(user.client)
        user = User.objects.select_for_update().get(pk=user.pk, client=client)
        data = build(user)
        if recheck:
            # Again with both as stored now: the caller's copies may predate a promotion of
            # the user, or a demotion of the actor.
            permissions.check_now(by, Op.USER_CHANGE, client.pk, user.level, data.level)
        before = rules.UserState.of(user)
        state = validate_user(
            client, data, user_id=user.pk, stored_username=user.username, before=before
        )
        if recheck:
            check_parts(by, client, user.level, before, state)
        errors = rules.check_keeps_an_admin(
            client, before, state, user_id=user.pk, label=user.label
        )
        if recheck and by.user is not None and by.user.pk == user.pk:
            errors |= rules.check_own_sign_in_settings(before, state)
        if errors:
            raise ValidationError(errors)
        changed = apply_state(user, state) + _apply_directory(user, data.directory)
        if changed:
            _save(user, changed)
            _record_changes(user, before, changed, by=by)
            if {"email", "work_phone", "mfa_method"} & set(changed):
                hooks.sign_in().factor_changed([user])
                if user.is_active:
                    notify.sign_in_settings_changed(user, before, by=by)
            if "is_active" in changed and not user.is_active:
                end_sessions(user)
    warnings = rules.user_template_warnings(client, state, user_label=user.label)
    return UserSaved(user, warnings)


NOT_ONESELF = _("You cannot delete your own account: another admin can.")


def check_parts(
    by: Actor, client: Client, level: str, before: rules.UserState, after: rules.UserState
) -> None:
    """The rows of the table an edit of a user (of `level`, as stored) also needs beyond
    "change": MFA settings, employment; with the actor as stored now."""
    if permissions.touches_mfa(before, after):
        permissions.check_now(by, Op.USER_MFA, client.pk, level, after.level)
    if before.is_active != after.is_active:
        permissions.check_now(by, Op.USER_DEACTIVATE, client.pk, level, after.level)


def delete_user(user: User, *, by: Actor) -> None:
    """Remove a user and their personal data (name, Email, Work phone, devices, factors):
    an admin's Delete, or a directory's where the client chose deletion over deactivation.
    Their sessions and sign-ins in the apps end first; the audit trail keeps its events,
    with the person's name replaced by a pseudonym (`privacy`). The last active admin
    stays."""
    permissions.check(by, Op.USER_DELETE, user.client_id, user.level)
    if by.user is not None and by.user.pk == user.pk:
        raise ValidationError(NOT_ONESELF)
    with transaction.atomic():
        client = lock_client(user.client)
        user = User.objects.select_for_update().get(pk=user.pk, client=client)
        permissions.check_now(by, Op.USER_DELETE, client.pk, user.level)
        before = rules.UserState.of(user)
        gone = rules.UserState(**{**before.__dict__, "is_active": False})
        errors = rules.check_keeps_an_admin(client, before, gone, user_id=user.pk, label=user.label)
        if errors:
            raise ValidationError(errors)
        end_sessions(user)
        name = privacy.pseudonym(user)
        privacy.forget_in_trail(user, name)
        audit.record(
            AuditAction.USER_DELETED,
            client=client,
            by=by,
            subject=None,
            summary=f"User deleted; the trail now calls them {name}",
            level=user.level,
            pseudonym=name,
        )
        user.delete()


# --- sign-in state the sign-in app keeps (asked through accounts.hooks) --------------------


def unlock_user(user: User, *, by: Actor) -> bool:
    """End a user's sign-in lock early (R7); answer whether there was one."""
    permissions.check(by, Op.USER_UNLOCK, user.client_id, user.level)
    return hooks.sign_in().unlock(user, by=by)


def revoke_devices(user: User, *, by: Actor) -> int:
    """Forget every remembered device of a user: their next sign-in asks for a code.

    A user may forget their own devices from their account page; anyone else is checked."""
    if by.user is None or by.user.pk != user.pk:
        permissions.check(by, Op.USER_REVOKE_DEVICES, user.client_id, user.level)
    return hooks.sign_in().revoke_devices(user, by=by)


def note_email_proven(user: User, address: str, *, with_sign_in: bool = False) -> None:
    """The user proved to hold `address` (a code delivered to it was typed back, or their
    company's SSO provider vouched for it): apps may see their Email as verified while it
    stays their Email. `with_sign_in`: the caller signs the user in next (`login()`, in
    this transaction): the address is written with their last_login, in one UPDATE."""
    if address and user.email_proven != address:
        user.email_proven = address
        if with_sign_in:
            sessions.save_with_sign_in(user, "email_proven")
        else:
            rows.update(user, ["email_proven"])  # one fixed UPDATE: on every first sign-in


def end_sessions(user: User) -> int:
    """End every session of `user` on the server (sign-out everywhere, deactivation)."""
    return sessions.end_all(user)


def sign_out_everywhere(user: User, *, by: Actor) -> int:
    """An admin (or their program) ends every session of `user` here and their sign-ins in
    every app, and forgets their remembered devices (the next sign-in anywhere asks for the
    password and the code); answer how many sessions there were. Recorded on the trail."""
    permissions.check(by, Op.USER_SIGN_OUT, user.client_id, user.level)
    ended = end_sessions(user)
    hooks.sign_in().revoke_devices(user, by=by)  # records its own event when there were any
    audit.record(
        AuditAction.SIGNIN_SIGNED_OUT,
        client=user.client,
        by=by,
        subject=user,
        summary=f"Signed {user.label} out everywhere ({ended} sessions ended)",
        everywhere=True,
        sessions=ended,
    )
    return ended


# --- the audit trail ------------------------------------------------------------------------


def mfa_event(user: User, before: rules.UserState, *, by: Actor) -> AuditEvent:
    """The audit event of a changed MFA method (built, not saved: bulk saves many at once)."""
    return audit.build(
        AuditAction.USER_MFA_CHANGED,
        client=user.client,
        by=by,
        subject=user,
        summary=(
            f"MFA of {user.label} changed from {MfaMethod(before.mfa_method).label} "
            f"to {MfaMethod(user.mfa_method).label}"
        ),
        before=before.mfa_method,
        after=user.mfa_method,
        destination=user.masked_mfa_destination(),
    )


def change_events(
    user: User, before: rules.UserState, changed: list[str], *, by: Actor
) -> list[AuditEvent]:
    """The audit events of a saved change of `user` (built, not saved: imports save many)."""
    events: list[AuditEvent] = []
    client = user.client
    if "mfa_method" in changed:
        events.append(mfa_event(user, before, by=by))
    contact_changes = {}
    if "email" in changed:
        contact_changes["email"] = {
            "before": contact.mask_email(before.email),
            "after": contact.mask_email(user.email),
        }
    if "work_phone" in changed:
        contact_changes["work_phone"] = {
            "before": contact.mask_phone(before.work_phone),
            "after": contact.mask_phone(user.work_phone),
        }
    if contact_changes:
        fields = " and ".join("Email" if k == "email" else "Work phone" for k in contact_changes)
        events.append(
            audit.build(
                AuditAction.USER_CONTACT_CHANGED,
                client=client,
                by=by,
                subject=user,
                summary=f"{fields} of {user.label} changed",
                **contact_changes,
            )
        )
    if "is_active" in changed:
        events.append(
            audit.build(
                AuditAction.USER_ACTIVATED if user.is_active else AuditAction.USER_DEACTIVATED,
                client=client,
                by=by,
                subject=user,
                summary=f"{user.label} set {'Active' if user.is_active else 'Inactive'}",
            )
        )
    other = [
        c for c in changed if c in ("username", "full_name", "level", *DirectoryAttributes.LIMITS)
    ]
    if other:
        events.append(
            audit.build(
                AuditAction.USER_DETAILS_CHANGED,
                client=client,
                by=by,
                subject=user,
                summary=f"Details of {user.label} changed: {', '.join(other)}",
                fields=other,
                level=user.level,
            )
        )

    return events


def _record_changes(user: User, before: rules.UserState, changed: list[str], *, by: Actor) -> None:
    AuditEvent.objects.bulk_create(change_events(user, before, changed, by=by))
