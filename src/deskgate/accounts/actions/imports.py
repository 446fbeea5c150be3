"""Importing users from a CSV file, and exporting them in the same columns (issue 16).

The file has the columns `username, full_name, level, email, work_phone, mfa, employment`
(UTF-8 with or without a BOM, comma or semicolon, as spreadsheets export it). A row whose
user name the client has already changes that user; any other row creates one.

One code path for the dry run and the real run: every row goes through `create_user` or
`write_user`, so R1-R5, R10 and the last-admin rule are checked exactly as on the form,
in one transaction with the client locked. Rows are written one after another, so a row sees
the rows before it (R4 between rows of the same file). The dry run, or a file with any
refused row, rolls the whole transaction back: a file is applied whole or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deskgate.accounts import audit, contact, hooks, notify, permissions, rules
from deskgate.accounts.actions import invitations
from deskgate.accounts.actions._common import RACED, lock_client
from deskgate.accounts.actions.users import (
    NOBODY,
    UserInput,
    apply_state,
    change_events,
    created_event,
    end_sessions,
    from_settings,
    new_user_mfa_for,
    settings_method,
    validate_user,
)
from deskgate.accounts.audit import Actor
from deskgate.accounts.models import AuditAction, AuditEvent, Client, Level, MfaMethod, User
from deskgate.accounts.permissions import Op

COLUMNS = ("username", "full_name", "level", "email", "work_phone", "mfa", "employment")
MAX_ROWS = 20_000
MAX_BYTES = 2 * 1024 * 1024  # about 20,000 rows; a page posts it back whole to apply
# A field's name in the rules' refusals -> the file's column.
_COLUMN_OF = {"mfa_method": "mfa", "is_active": "employment"}


class Outcome(StrEnum):
    CREATE = "create"
    CHANGE = "change"
    UNCHANGED = "unchanged"
    REFUSE = "refuse"


@dataclass
class RowResult:
    line: int  # the row's line in the file (the header is line 1)
    username: str
    outcome: Outcome
    # What changes (CHANGE: the columns), or why the row is refused (REFUSE).
    details: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    rows: list[RowResult]
    applied: bool
    # With `invite`: invitations sent to new users, and (user name, why) for those not sent.
    invited: int = 0
    not_invited: list[tuple[str, str]] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def refused(self) -> list[RowResult]:
        return [r for r in self.rows if r.outcome == Outcome.REFUSE]

    @property
    def summary(self) -> str:
        return _(
            "%(created)d to create, %(changed)d to change, %(unchanged)d unchanged, "
            "%(refused)d refused."
        ) % {
            "created": self.count(Outcome.CREATE),
            "changed": self.count(Outcome.CHANGE),
            "unchanged": self.count(Outcome.UNCHANGED),
            "refused": self.count(Outcome.REFUSE),
        }


@dataclass
class ImportRow:
    """One row of the file as typed, cells stripped ("" where a cell was empty)."""

    line: int
    username: str
    full_name: str
    level: str
    email: str
    work_phone: str
    mfa: str
    employment: str


class FileError(ValueError):
    """The file cannot be read as a user list at all (nothing is checked row by row)."""


# --- reading the file -----------------------------------------------------------------------


def read_csv(data: bytes) -> list[ImportRow]:
    """The rows of a CSV file, or FileError saying in an admin's words what is wrong."""
    if len(data) > MAX_BYTES:
        raise FileError(_("The file is larger than 2 MB. Split it into smaller files."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(
            _(
                "The file is not UTF-8 text. In your spreadsheet, save it as "
                "“CSV UTF-8” and try again."
            )
        ) from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FileError(
            _("The file is empty. Its first line names the columns: %(columns)s.")
            % {"columns": ", ".join(COLUMNS)}
        )
    header = lines[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    names = [h.strip().lower().replace(" ", "_") for h in next(reader)]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n for n in names if n and n not in COLUMNS]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(_("missing: %(names)s") % {"names": ", ".join(missing)})
        if unknown:
            parts.append(_("not known: %(names)s") % {"names": ", ".join(unknown)})
        raise FileError(
            _("The first line must name the columns %(columns)s (%(problems)s).")
            % {"columns": ", ".join(COLUMNS), "problems": "; ".join(parts)}
        )
    at = {c: names.index(c) for c in COLUMNS}
    rows: list[ImportRow] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines, as spreadsheets leave at the end
        if len(rows) >= MAX_ROWS:
            raise FileError(
                _("The file has more than %(max)d users. Split it into smaller files.")
                % {"max": MAX_ROWS}
            )
        cells = [_unescaped(v.strip()) for v in values] + [""] * (len(names) - len(values))
        rows.append(ImportRow(line, **{c: cells[at[c]] for c in COLUMNS}))
    if not rows:
        raise FileError(_("The file names its columns but has no users below them."))
    return rows


def _choice(raw: str, choices: type[Level] | type[MfaMethod]) -> str | None:
    """A level or method by its value or its label, any case ("team_leader", "Team leader")."""
    key = raw.strip().lower().replace("_", " ")
    for value, label in choices.choices:
        if key in (str(value).replace("_", " "), str(label).lower()):
            return str(value)
    return None


def _employment(raw: str) -> bool | None:
    key = raw.strip().lower()
    if key in ("active", "yes", "true", "1"):
        return True
    if key in ("inactive", "no", "false", "0"):
        return False
    return None


def _row_input(row: ImportRow, existing: User | None) -> tuple[dict[str, object], list[str]]:
    """The fields the row sets, or the columns' own errors. Empty mfa and employment keep
    an existing user's value (a new user: the client's settings, and Active)."""
    errors: list[str] = []
    fields: dict[str, object] = {
        "full_name": row.full_name,
        "email": row.email,
        "work_phone": row.work_phone,
    }
    level = _choice(row.level, Level) if row.level else None
    if level is None:
        errors.append(
            _("level: %(value)s is not a level; use admin, manager, team_leader or agent.")
            % {"value": row.level or _("an empty value")}
        )
    else:
        fields["level"] = level
    if row.mfa:
        method = _choice(row.mfa, MfaMethod)
        if method is None:
            errors.append(_("mfa: %(value)s is not off, email or sms.") % {"value": row.mfa})
        else:
            fields["mfa_method"] = method
    elif existing is None:
        fields["mfa_method"] = ""  # the client's settings for the level decide
    if row.employment:
        active = _employment(row.employment)
        if active is None:
            errors.append(
                _("employment: %(value)s is not active or inactive.") % {"value": row.employment}
            )
        else:
            fields["is_active"] = active
    return fields, errors


def _messages(exc: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(exc, PermissionDenied):
        return [str(exc)]
    if not hasattr(exc, "error_dict"):
        return list(exc.messages)
    return [
        f"{_COLUMN_OF.get(name, name)}: {message}" if name != "__all__" else message
        for name, messages in exc.message_dict.items()
        for message in messages
    ]


# --- checking and applying ------------------------------------------------------------------


@dataclass
class _Accepted:
    user: User
    before: rules.UserState | None  # None: a new user
    changed: list[str]
    given: str = ""  # a new user's MFA method that came from the client's settings


def import_users(
    client: Client,
    rows: Iterable[ImportRow],
    *,
    by: Actor,
    dry_run: bool,
    source: str = "",
    invite: bool = False,
) -> ImportResult:
    """Check every row against every rule; apply them all (one transaction) unless this is
    a dry run or a row is refused. `source`: the file's name, for the audit trail.
    `invite`: once applied, each new active user with an Email gets an invitation
    (`invitations.invite_many`); one that cannot go is listed, the import stands.

    The dry run and the real run make the same plan (`_plan`), in the same transaction with
    the client locked; only the real run then writes it (`_write`)."""
    permissions.check(by, Op.USERS_IMPORT, client.pk)
    rows = list(rows)
    with notify.batched(), transaction.atomic():  # notices go out together at the end
        client = lock_client(client)
        permissions.check_now(by, Op.USERS_IMPORT, client.pk)
        results, accepted = _plan(client, rows, by=by)
        if dry_run or any(r.outcome == Outcome.REFUSE for r in results):
            return ImportResult(results, applied=False)
        _write(client, accepted, by=by)
        outcome = ImportResult(results, applied=True)
        audit.record(
            AuditAction.USERS_IMPORTED,
            client=client,
            by=by,
            summary=f"Users imported{f' from {source}' if source else ''}: "
            f"{outcome.count(Outcome.CREATE)} created, {outcome.count(Outcome.CHANGE)} "
            f"changed, {outcome.count(Outcome.UNCHANGED)} unchanged",
            file=source,
            created=outcome.count(Outcome.CREATE),
            changed=outcome.count(Outcome.CHANGE),
            unchanged=outcome.count(Outcome.UNCHANGED),
        )
    if invite:
        # After the commit: the users exist whether or not each email goes out.
        new = [a.user for a in accepted if a.before is None and a.user.is_active and a.user.email]
        batch = invitations.invite_many(new, by=by)
        outcome.invited = batch.sent
        outcome.not_invited = [(user.username, why) for user, why in batch.refused]
    return outcome


def _plan(
    client: Client, rows: list[ImportRow], *, by: Actor
) -> tuple[list[RowResult], list[_Accepted]]:
    """Each row checked by `validate_user`, the form's own checks, against the client as it
    would be after the rows before it: R4's data is one snapshot kept true row by row, the
    active admins a set, the user names one query for the whole file."""
    keys = [r.username.strip().lower() for r in rows]
    wanted = {k for k in keys if k}
    found = User.objects.annotate(key=Lower("username")).filter(key__in=wanted)
    stored = {u.username.lower(): u for u in found}  # user names are unique platform-wide
    directory = rules.Directory.snapshot(client)
    admins = set(
        User.objects.filter(client=client, level=Level.ADMIN, is_active=True).values_list(
            "pk", flat=True
        )
    )
    senders = {m: bool(rules.templates_sending_from(client, m)) for m in MfaMethod.values}
    first_line: dict[str, int] = {}
    results: list[RowResult] = []
    accepted: list[_Accepted] = []
    for row, key in zip(rows, keys, strict=True):
        result = RowResult(row.line, row.username, Outcome.REFUSE)
        results.append(result)
        if key in first_line:
            result.details = [
                _("username: %(name)s is already on line %(line)d of this file.")
                % {"name": row.username, "line": first_line[key]}
            ]
            continue
        if key:
            first_line[key] = row.line
        user = stored.get(key) if key else None
        if user is not None and user.client_id != client.pk:
            result.details = [
                _(
                    "username: the user name %(name)s is already taken; user names are unique "
                    "across the platform."
                )
                % {"name": row.username}
            ]
            continue
        if user is not None:
            user.client = client
        fields, errors = _row_input(row, user)
        if errors:
            result.details = errors
            continue
        try:
            plan = _check_row(client, row, user, fields, directory, admins, by=by)
        except (ValidationError, PermissionDenied) as exc:
            result.details = _messages(exc)
            continue
        state = rules.UserState.of(plan.user)
        if plan.before is None:
            result.outcome = Outcome.CREATE
        elif plan.changed:
            result.outcome = Outcome.CHANGE
            result.details = [_COLUMN_OF.get(n, n) for n in plan.changed]
        else:
            result.outcome = Outcome.UNCHANGED
        if senders.get(state.mfa_method):
            result.warnings = rules.user_template_warnings(
                client, state, user_label=plan.user.label
            )
        if plan.before is None or plan.changed:
            accepted.append(plan)
    for result in results:
        # The rules' words quote a number as typed (the form shows it back to its typist);
        # a file's results are kept, printed and shown in bulk: no full number in them.
        result.details = [contact.mask_numbers_in(d) for d in result.details]
        result.warnings = [contact.mask_numbers_in(w) for w in result.warnings]
    return results, accepted


def _check_row(
    client: Client,
    row: ImportRow,
    user: User | None,
    fields: dict[str, object],
    directory: rules.Directory,
    admins: set[int],
    *,
    by: Actor,
) -> _Accepted:
    """One row as the form checks it: rights (R10), then every rule; the plan for it."""
    if user is None:
        level = str(fields["level"])
        permissions.check(by, Op.USERS_IMPORT, client.pk, level)
        given = ""
        chosen = fields.get("mfa_method")
        if chosen and chosen != settings_method(client, level):  # an MFA setting
            permissions.check(by, Op.USER_MFA, client.pk, level)
        if not chosen:
            given = new_user_mfa_for(client, level)
            fields["mfa_method"] = given or MfaMethod.OFF
        data = UserInput(username=row.username, **fields)  # type: ignore[arg-type]
        try:
            # `_plan` read every user name of the file in one query: a name not found there
            # is free, so the rules need not ask again per row (`stored_username`).
            state = validate_user(
                client, data, user_id=None, stored_username=row.username, directory=directory
            )
        except ValidationError as exc:
            raise from_settings(exc, client, level, given) from None
        new = User(client=client)
        apply_state(new, state)
        new.set_unusable_password()  # no password is ever in a file
        new.must_change_password = True
        plan = _Accepted(new, None, list(rules.USER_FIELDS), given)
        pk = -row.line  # not saved yet: a stand-in id, unique in the file, for R4's snapshot
        before = NOBODY
    else:
        before = rules.UserState.of(user)
        data = UserInput.of(user)
        for name, value in fields.items():
            setattr(data, name, value)
        permissions.check(by, Op.USERS_IMPORT, client.pk, user.level, data.level)
        state = validate_user(
            client,
            data,
            user_id=user.pk,
            stored_username=user.username,
            directory=directory,
            before=before,
        )
        if permissions.touches_mfa(before, state):
            permissions.check(by, Op.USER_MFA, client.pk, user.level, data.level)
        if before.is_active != state.is_active:
            permissions.check(by, Op.USER_DEACTIVATE, client.pk, user.level, data.level)
        if by.user is not None and by.user.pk == user.pk:
            own = rules.check_own_sign_in_settings(before, state)
            if own:
                raise ValidationError(own)
        pk = user.pk
        was_admin = before.is_active and before.level == Level.ADMIN
        stays_admin = state.is_active and state.level == Level.ADMIN
        if was_admin and not stays_admin and not (admins - {pk}):
            raise ValidationError(rules.no_admin_left(client, state, label=user.label))
        plan = _Accepted(user, before, apply_state(user, state))
    if state.is_active and state.level == Level.ADMIN:
        admins.add(pk)
    else:
        admins.discard(pk)
    directory.record(pk, plan.user.label, before, state)
    return plan


def _write(client: Client, accepted: list[_Accepted], *, by: Actor) -> None:
    """Save the plan in a few statements, with the events and side effects of `write_user`:
    codes and devices voided, notices to the old destination, sessions of the deactivated
    ended."""
    now = timezone.now()
    new = [a.user for a in accepted if a.before is None]
    changed = [a for a in accepted if a.before is not None]
    for a in changed:
        a.user.updated_at = now
    try:
        with transaction.atomic():
            User.objects.bulk_create(new, batch_size=1000)
            for a in changed:  # an UPDATE of the changed columns each (bulk_update's CASE
                # expressions cost more to build than these statements do to run)
                values = {name: getattr(a.user, name) for name in a.changed}
                User.objects.filter(pk=a.user.pk).update(
                    **values, search_key=a.user.search_key, updated_at=now
                )
    except IntegrityError as exc:
        # The constraints back the rules up; reaching one means another door raced us.
        raise ValidationError(RACED) from exc
    if new and new[0].pk is None:  # a database that does not return ids from bulk_create
        ids = dict(
            User.objects.filter(client=client, username__in=[u.username for u in new]).values_list(
                "username", "pk"
            )
        )
        for u in new:
            u.pk = ids[u.username]
    events: list[AuditEvent] = []
    for a in accepted:
        if a.before is None:
            events.append(created_event(a.user, by=by, given=a.given))
        else:
            events += change_events(a.user, a.before, a.changed, by=by)
    AuditEvent.objects.bulk_create(events, batch_size=500)
    voided = [a.user for a in changed if {"email", "work_phone", "mfa_method"} & set(a.changed)]
    if voided:
        hooks.sign_in().factor_changed(voided)
    for a in changed:
        assert a.before is not None  # noqa: S101  # `changed` holds existing users only
        if a.user.is_active and {"email", "work_phone", "mfa_method"} & set(a.changed):
            notify.sign_in_settings_changed(a.user, a.before, by=by)
        if "is_active" in a.changed and not a.user.is_active:
            end_sessions(a.user)


# --- exporting -----------------------------------------------------------------------------


# A cell a spreadsheet would run as a formula starts with one of these (OWASP, "CSV
# injection"); the export puts an apostrophe before it, and the import takes it off again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _unescaped(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def user_values(users: Iterable[User]) -> Iterator[list[str]]:
    """One row per user in the columns an import reads back (cells as stored)."""
    for u in users:
        yield [
            u.username,
            u.full_name,
            u.level,
            u.email,
            u.work_phone,
            u.mfa_method,
            "active" if u.is_active else "inactive",
        ]


def export_rows(users: Iterable[User]) -> Iterator[list[str]]:
    """The header and `user_values`, with formula-like cells made safe."""
    yield list(COLUMNS)
    for values in user_values(users):
        yield [safe_cell(v) for v in values]


def refused_summary(result: ImportResult) -> str:
    n = len(result.refused)
    return ngettext(
        "%(n)d row is refused, so nothing was imported.",
        "%(n)d rows are refused, so nothing was imported.",
        n,
    ) % {"n": n}
