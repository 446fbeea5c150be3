"""The named actions through which every write of clients, users and templates goes.

Web pages, the command line and bulk actions call these; none of them saves
a model itself. Each action checks the rules (`deskgate.accounts.rules`) inside the
transaction that writes, with the client's row locked so that concurrent writes for one
client are serialised (R4 holds under concurrency), and records the audit event (R9).
Refusals raise `django.core.exceptions.ValidationError` keyed by field name, or
`PermissionDenied`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from deskgate.accounts import access, audit, contact, notify, rules, sessions
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import (
    AuditEvent,
    Client,
    Level,
    MessageTemplate,
    MfaMethod,
    User,
)

_RELEASE_RE = re.compile(r"\d{1,3}\.\d{1,3}")


@dataclass
class UserInput:
    """A user's fields as typed (in a form, a JSON body or on the command line)."""

    username: str
    full_name: str
    level: str = Level.AGENT
    email: str = ""
    work_phone: str = ""
    mfa_method: str = MfaMethod.OFF
    is_active: bool = True

    @classmethod
    def of(cls, user: User) -> UserInput:
        return cls(
            username=user.username,
            full_name=user.full_name,
            level=user.level,
            email=user.email,
            work_phone=user.work_phone,
            mfa_method=user.mfa_method,
            is_active=user.is_active,
        )


@dataclass
class UserSaved:
    user: User
    warnings: list[str] = field(default_factory=list)


@dataclass
class BulkOutcome:
    user: User
    applied: bool
    reason: str


# --- clients -------------------------------------------------------------------------------


def create_client(name: str, release: str, country: str = "FI", *, by: Actor) -> Client:
    """Create a client (tenant) on a release such as 25.4 or 11.8."""
    errors: dict[str, list[str]] = {}
    try:
        name = rules.clean_name(name, "The client's name", 100)
    except ValidationError as exc:
        errors["name"] = list(exc.messages)
    if errors:
        pass
    elif not name:
        errors["name"] = ["Enter the client's name."]
    elif Client.objects.filter(name__iexact=name).exists():
        errors["name"] = [f"A client named {name} already exists."]
    release = release.strip()
    if not _RELEASE_RE.fullmatch(release):
        errors["release"] = ["Enter the release as major.minor, such as 25.4 or 11.8."]
    country = country.strip().upper()
    if country not in contact.known_regions():
        errors["country"] = [f"{country or 'An empty value'} is not a two-letter country code."]
    if errors:
        raise ValidationError(errors)
    base = slugify(name)[:90] or "client"
    slug, n = base, 1
    while Client.objects.filter(slug=slug).exists():  # "Acme" and "ACME!" both exist
        n += 1
        slug = f"{base}-{n}"
    with transaction.atomic():
        client = Client.objects.create(
            name=name, slug=slug, release=release, default_country=country
        )
        audit.record(
            "client.created",
            client=client,
            by=by,
            summary=f"Client {name} created on release {release}",
            release=release,
        )
    return client


def update_client_settings(
    client: Client,
    *,
    by: Actor,
    password_reset_enabled: bool,
    remember_device_enabled: bool,
    sms_countries: str | None = None,
) -> Client:
    """Save a client's sign-in settings; SMS countries are two-letter codes, empty for all."""
    access.require(by.user, client.pk, admin_only=True)
    fields = ["password_reset_enabled", "remember_device_enabled"]
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        if sms_countries is not None:
            codes = sorted(set(sms_countries.replace(",", " ").upper().split()))
            unknown = [c for c in codes if c not in contact.known_regions()]
            if unknown:
                raise ValidationError(
                    {
                        "sms_countries": [
                            f"Not two-letter country codes: {', '.join(unknown)}. "
                            "Use codes such as FI SE EE."
                        ]
                    }
                )
            client.sms_countries = " ".join(codes)
            fields.append("sms_countries")
        client.password_reset_enabled = password_reset_enabled
        client.remember_device_enabled = remember_device_enabled
        client.save(update_fields=fields)
        audit.record(
            "client.settings_changed",
            client=client,
            by=by,
            summary="Client settings changed",
            password_reset_enabled=password_reset_enabled,
            remember_device_enabled=remember_device_enabled,
            sms_countries=client.sms_countries,
        )
    return client


# --- permissions ---------------------------------------------------------------------------


def _require_may_manage(by: Actor, client: Client, *levels: str) -> None:
    """Admins manage every user of their client; managers all but admins (R10).

    The one check of the action layer: `access.refusal` decides, for every path.
    """
    access.require(by.user, client.pk, levels=levels)


def _require_may_manage_now(by: Actor, client: Client, *levels: str) -> None:
    """The same check with the actor as stored now, inside the write with the client's row
    locked: a demotion or deactivation of the actor since their page loaded counts."""
    if by.user is None:
        return
    stored = User.objects.filter(pk=by.user.pk).first()
    if stored is None:
        raise PermissionDenied(access.Refusal.NO_ADMIN_PAGES.value)
    access.require(stored, client.pk, levels=levels)


# --- users ---------------------------------------------------------------------------------


def _clean(client: Client, data: UserInput) -> tuple[rules.UserState, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}

    def cleaned(name: str, fn, raw: str) -> str:  # type: ignore[no-untyped-def]
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


def _validate(
    client: Client,
    data: UserInput,
    *,
    user_id: int | None,
    stored_username: str | None = None,
    directory: rules.Directory | None = None,
    before: rules.UserState | None = None,
) -> rules.UserState:
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


def _lock_client(client: Client) -> Client:
    return Client.objects.select_for_update().get(pk=client.pk)


def _apply(user: User, state: rules.UserState) -> list[str]:
    changed = [
        name
        for name in (
            "username",
            "full_name",
            "level",
            "is_active",
            "email",
            "work_phone",
            "mfa_method",
        )
        if getattr(user, name) != getattr(state, name)
    ]
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
        raise ValidationError(
            "Someone else changed these users at the same moment; reload and try again."
        ) from exc


def create_user(
    client: Client,
    data: UserInput,
    *,
    by: Actor,
    password: str | None = None,
    temporary_password: bool = True,
) -> UserSaved:
    """Create a user of `client`. Their first password is temporary unless said otherwise."""
    _require_may_manage(by, client, data.level)
    with transaction.atomic():
        client = _lock_client(client)
        state = _validate(client, data, user_id=None)
        user = User(client=client)
        _apply(user, state)
        if password:
            _check_password(user, password)
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.must_change_password = temporary_password
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:
            raise ValidationError(
                "Someone else changed these users at the same moment; reload and try again."
            ) from exc
        audit.record(
            "user.created",
            client=client,
            by=by,
            subject=user,
            summary=f"Created {user.label} as {Level(user.level).label}",
            level=user.level,
            mfa_method=user.mfa_method,
            email=contact.mask_email(user.email),
            work_phone=contact.mask_phone(user.work_phone),
            active=user.is_active,
        )
    warnings = rules.user_template_warnings(client, state, user_label=user.label)
    return UserSaved(user, warnings)


def update_user(user: User, data: UserInput, *, by: Actor) -> UserSaved:
    """Save an edit of a user's details, contact information, MFA and employment."""
    _require_may_manage(by, user.client, user.level, data.level)
    return _write(user, by=by, build=lambda current: data, recheck=True)


def unlock_user(user: User, *, by: Actor) -> bool:
    """End a user's sign-in lock early (R7); answer whether there was one."""
    from deskgate.signin import challenge  # the sign-in app owns locks

    _require_may_manage(by, user.client, user.level)
    return challenge.unlock(user, by=by)


def revoke_devices(user: User, *, by: Actor) -> int:
    """Forget every remembered device of a user: their next sign-in asks for a code.

    A user may forget their own devices from their account page; anyone else is checked."""
    from deskgate.signin import devices  # the sign-in app owns remembered devices

    if by.user is None or by.user.pk != user.pk:
        _require_may_manage(by, user.client, user.level)
    return devices.revoke_all(user, by=by)


def _write(
    user: User,
    *,
    by: Actor,
    build: Callable[[User], UserInput],
    recheck: bool,
) -> UserSaved:
    """The one place a user's row changes: lock, validate every rule, save, audit, void."""
    with transaction.atomic():
        client = _lock_client(user.client)
        user = User.objects.select_for_update().get(pk=user.pk, client=client)
        data = build(user)
        if recheck:
            # Again with both as stored now: the caller's copies may predate a promotion of
            # the user, or a demotion of the actor.
            _require_may_manage_now(by, client, user.level, data.level)
        before = rules.UserState.of(user)
        state = _validate(
            client, data, user_id=user.pk, stored_username=user.username, before=before
        )
        errors = rules.check_keeps_an_admin(
            client, before, state, user_id=user.pk, label=user.label
        )
        if recheck and by.user is not None and by.user.pk == user.pk:
            errors |= rules.check_own_sign_in_settings(before, state)
        if errors:
            raise ValidationError(errors)
        changed = _apply(user, state)
        if changed:
            _save(user, changed)
            _record_changes(user, before, changed, by=by)
            if {"email", "work_phone", "mfa_method"} & set(changed):
                _void_factor_state(user)
                if user.is_active:
                    notify.sign_in_settings_changed(user, before, by=by)
            if "is_active" in changed and not user.is_active:
                end_sessions(user)
    warnings = rules.user_template_warnings(client, state, user_label=user.label)
    return UserSaved(user, warnings)


OWN_CONTACT_FIELDS = ("email", "work_phone")


def check_own_contact(user: User, field: str, value: str) -> str:
    """Validate a user's new Email or Work phone without saving; answer it cleaned."""
    if field not in OWN_CONTACT_FIELDS:
        raise ValidationError({field: ["Only Email and Work phone can be changed here."]})
    data = UserInput.of(user)
    setattr(data, field, value)
    state = _validate(user.client, data, user_id=user.pk, before=rules.UserState.of(user))
    phone = state.work_phone
    if field == "work_phone" and phone:
        # The new number is confirmed by SMS: it must be able to take one, and the client's
        # SMS countries bound what a user can make Deskgate send (SMS pumping).
        if not contact.is_mobile(phone):
            raise ValidationError(
                {
                    field: [
                        f"{contact.format_phone(phone)} is not a mobile number; a new Work "
                        "phone is confirmed with a code by SMS. Ask your admin to enter a "
                        "landline."
                    ]
                }
            )
        if not user.client.sms_allowed_to(phone):
            raise ValidationError(
                {
                    field: [
                        f"{user.client.name} sends SMS only to numbers in "
                        f"{', '.join(user.client.sms_country_list)}: ask your admin."
                    ]
                }
            )
    return str(getattr(state, field))


def change_own_contact(user: User, field: str, value: str, *, by: Actor) -> UserSaved:
    """A user changes their own Email or Work phone, after re-authenticating and
    confirming the new destination with a code (the caller's flow proves both)."""
    if by.user is None or by.user.pk != user.pk:
        raise PermissionDenied("Only the user can change their own contact information here.")
    if field not in OWN_CONTACT_FIELDS:
        raise ValidationError({field: ["Only Email and Work phone can be changed here."]})

    def build(current: User) -> UserInput:
        data = UserInput.of(current)
        setattr(data, field, value)
        return data

    return _write(user, by=by, build=build, recheck=False)


def _change_fields(user: User, *, by: Actor, **changes: object) -> UserSaved:
    """Change some fields and keep the others as they are stored now.

    `user` may have been loaded before someone else's edit; building the input from it
    would silently undo that edit, so the input is read from the locked row instead.
    """
    _require_may_manage(by, user.client, user.level)
    with transaction.atomic():
        _lock_client(user.client)
        current = User.objects.select_for_update().get(pk=user.pk)
        data = UserInput.of(current)
        for name, value in changes.items():
            setattr(data, name, value)
        return update_user(current, data, by=by)


def change_mfa_method(user: User, method: str, *, by: Actor) -> UserSaved:
    """Set one user's MFA method (Off, Email or SMS), keeping every other field."""
    return _change_fields(user, by=by, mfa_method=method)


def set_user_active(user: User, active: bool, *, by: Actor) -> UserSaved:
    """Set a user Active or Inactive; deactivation ends their sessions."""
    return _change_fields(user, by=by, is_active=active)


def bulk_change_mfa_method(
    client: Client, users: Iterable[User], method: str, *, by: Actor
) -> list[BulkOutcome]:
    """R8: set the method for many users; say per user what was applied or refused and why.

    One transaction with the client locked: each user is checked against every rule in
    turn (a user accepted earlier in the batch counts for the next checks, since R4 looks
    at every active user's destination whatever their method), then the accepted users
    are written, audited and their codes and devices voided together.
    """
    outcomes: list[BulkOutcome] = []
    label = MfaMethod(method).label if method in MfaMethod.values else method
    wanted = [u.pk for u in users if u.client_id == client.pk]  # never another client's
    with notify.batched(), transaction.atomic():  # notices go out together at the end
        client = _lock_client(client)
        rows = User.objects.select_for_update().select_related("client")
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
                _require_may_manage(by, client, user.level)
                now = rules.UserState.of(user)
                state = _validate(
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
            _apply(user, state)
            directory.record(pk, user.label, before, state)
            accepted.append((user, before))
            outcomes.append(BulkOutcome(user, True, f"MFA set to {label}."))
        _write_many(accepted, by=by)
    applied = sum(o.applied for o in outcomes)
    audit.record(
        "user.bulk_mfa",
        client=client,
        by=by,
        summary=f"Bulk MFA {label}: {applied} applied, {len(outcomes) - applied} refused",
        method=method,
        applied=applied,
        refused=len(outcomes) - applied,
    )
    return outcomes


def _write_many(accepted: list[tuple[User, rules.UserState]], *, by: Actor) -> None:
    """Save users whose MFA method changed, already checked, in a few statements."""
    if not accepted:
        return
    from deskgate.signin import state as signin_state  # the sign-in app owns codes

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
        raise ValidationError(
            "Someone else changed these users at the same moment; reload and try again."
        ) from exc
    AuditEvent.objects.bulk_create(
        [_mfa_event(user, before, by=by) for user, before in accepted], batch_size=500
    )
    signin_state.void_factor_state_many(changed)
    for user, before in accepted:
        if user.is_active:
            notify.sign_in_settings_changed(user, before, by=by)


def _mfa_event(user: User, before: rules.UserState, *, by: Actor) -> AuditEvent:
    return audit.build(
        "user.mfa_changed",
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


def _record_changes(user: User, before: rules.UserState, changed: list[str], *, by: Actor) -> None:
    client = user.client
    if "mfa_method" in changed:
        _mfa_event(user, before, by=by).save()
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
        audit.record(
            "user.contact_changed",
            client=client,
            by=by,
            subject=user,
            summary=f"{fields} of {user.label} changed",
            **contact_changes,
        )
    if "is_active" in changed:
        audit.record(
            "user.activated" if user.is_active else "user.deactivated",
            client=client,
            by=by,
            subject=user,
            summary=f"{user.label} set {'Active' if user.is_active else 'Inactive'}",
        )
    other = [c for c in changed if c in ("username", "full_name", "level")]
    if other:
        audit.record(
            "user.details_changed",
            client=client,
            by=by,
            subject=user,
            summary=f"Details of {user.label} changed: {', '.join(other)}",
            fields=other,
            level=user.level,
        )


def _void_factor_state(user: User) -> None:
    """A changed method or destination voids pending codes and remembered devices."""
    from deskgate.signin import state  # the sign-in app owns codes and devices

    state.void_factor_state(user)


def end_sessions(user: User) -> int:
    """End every session of `user` on the server (sign-out everywhere, deactivation)."""
    return sessions.end_all(user)


# --- passwords -----------------------------------------------------------------------------


def _check_password(user: User, raw: str) -> None:
    try:
        password_validation.validate_password(raw, user)
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from None


def set_password(user: User, raw: str, *, by: Actor, temporary: bool = False) -> None:
    """Set a password: temporary when an admin sets it, final when the user chooses it.

    A user's own password is set by their own pages (after the current one, or a reset
    link), never as a temporary one through the admin pages: a stolen session would do it.
    """
    if by.user is not None and by.user.pk == user.pk and temporary:
        raise ValidationError({"password": [rules.NOT_ON_ONESELF_HERE]})
    if by.user is not None and by.user.pk != user.pk:
        _require_may_manage(by, user.client, user.level)
    _check_password(user, raw)
    with transaction.atomic():
        user.set_password(raw)
        user.must_change_password = temporary
        user.save(update_fields=["password", "must_change_password", "updated_at"])
        _void_factor_state(user)
        audit.record(
            "user.password_set"
            if by.user is None or by.user.pk != user.pk
            else "user.password_changed",
            client=user.client,
            by=by,
            subject=user,
            summary=(
                f"Temporary password set for {user.label}"
                if temporary
                else f"Password of {user.label} changed"
            ),
        )


# --- message templates ---------------------------------------------------------------------


@dataclass
class TemplateInput:
    name: str
    channel: str
    sender: str
    subject: str
    body: str


def save_template(
    client: Client, template: MessageTemplate | None, data: TemplateInput, *, by: Actor
) -> tuple[MessageTemplate, list[str]]:
    """Create or edit a message template; answer with the R5 warnings it raises."""
    _require_may_manage(by, client)
    errors: dict[str, list[str]] = {}
    name = ""
    try:
        name = rules.clean_name(data.name, "The template's name", 100)
    except ValidationError as exc:
        errors["name"] = list(exc.messages)
    if "name" in errors:
        pass
    elif not name:
        errors["name"] = ["Enter a name for the template."]
    else:
        same = MessageTemplate.objects.filter(client=client, name__iexact=name)
        if template is not None:
            same = same.exclude(pk=template.pk)
        if same.exists():
            errors["name"] = [f"There is already a template named {name}."]
    if data.channel not in ("email", "sms"):
        errors["channel"] = ["Choose Email or SMS."]
    sender = data.sender.strip()
    if not sender:
        errors["sender"] = ["Enter the sender: a fixed address or number, or a tag."]
    elif data.channel == "email" and sender != rules.EMAIL_TAG:
        try:
            contact.clean_email(sender)
        except ValidationError:
            errors["sender"] = [
                f"An email template sends from an address or from {rules.EMAIL_TAG}."
            ]
    elif data.channel == "sms" and sender != rules.WORKPHONE_TAG:
        try:
            sender = contact.clean_work_phone(sender, client.default_country)
        except ValidationError:
            if not re.fullmatch(r"[A-Za-z0-9 ]{1,11}", sender):
                errors["sender"] = [
                    f"An SMS template sends from a phone number, a name of at most 11 letters "
                    f"and digits, or {rules.WORKPHONE_TAG}."
                ]
    if not data.body.strip():
        errors["body"] = ["Enter the message text."]
    for fname, label, text in (
        ("subject", "The subject", data.subject),
        ("body", "The message", data.body),
    ):
        # A subject is one line of plain text; a message keeps its lines, and may need
        # bidi marks or emoji joiners, but no control characters.
        problems = rules.check_text(
            text, label, line_breaks=fname == "body", formats=fname != "body"
        )
        problems += rules.check_template_text(text, label)
        if problems:
            errors.setdefault(fname, []).extend(problems)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        created = template is None
        if template is None:
            template = MessageTemplate(client=client)
        template.name = name
        template.channel = data.channel
        template.sender = sender
        template.subject = data.subject.strip() if data.channel == "email" else ""
        template.body = data.body
        template.save()
        audit.record(
            "template.created" if created else "template.changed",
            client=client,
            by=by,
            summary=f"Message template \u201c{name}\u201d {'created' if created else 'changed'}",
            template=template.pk,
        )
    return template, rules.template_warnings(template)
