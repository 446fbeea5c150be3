"""Who may do what to whom: the one permission table, written once.

Every action (and so every door: page, CLI, import, REST API, SCIM) asks `check` or
`refusal` with an `Op` from the table; pages ask `allowed` to hide the buttons the action
would refuse. The README shows the same table (`markdown_table`); a test keeps them equal.

A row is an operation; a column is the actor's level, and a cell says on whom:
- `ANY`: any user of their own client;
- `BELOW`: users of a level below their own (a manager: team leaders and agents), as the
  user is and as they would become;
- `NO`: never.

The operator at the command line may do everything; a program holding an API or SCIM token
acts for its own client only (its scope, checked where it signs in, says which calls), as
the admin who made it. Everyone changes their own Email, Work phone, password, devices and
factors on their own account pages, which ask for the password and a code: those are not in
the table. Whatever the table allows, the rules still hold (R1-R10, the last admin, no
admin path to one's own sign-in settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

from django.core.exceptions import PermissionDenied
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from deskgate.accounts.audit import Actor
from deskgate.accounts.models import ADMIN_PAGE_LEVELS, Level, MfaMethod, User


class Scope(Enum):
    ANY = "any in own client"
    BELOW = "levels below own"
    NO = "no"


ANY, BELOW, NO = Scope.ANY, Scope.BELOW, Scope.NO

# Highest first: a level's users act (at most) on the levels after it.
RANK = {level: n for n, level in enumerate(Level.values)}


class Op(StrEnum):
    ADMIN_PAGES = "pages.open"
    USERS_VIEW = "users.view"
    USERS_EXPORT = "users.export"
    USER_CREATE = "user.create"
    USER_CHANGE = "user.change"
    USER_DEACTIVATE = "user.deactivate"
    USER_PASSWORD = "user.password"  # noqa: S105  # the name of an operation
    USER_MFA = "user.mfa"
    USERS_MFA_BULK = "users.mfa_bulk"
    USER_RESET_FACTORS = "user.reset_factors"
    USER_SETUP_LINK = "user.setup_link"
    USER_UNLOCK = "user.unlock"
    USER_REVOKE_DEVICES = "user.revoke_devices"
    USER_SIGN_OUT = "user.sign_out_everywhere"
    INVITATION_RESEND = "invitation.resend"
    INVITATION_REVOKE = "invitation.revoke"
    USER_DELETE = "user.delete"
    USERS_IMPORT = "users.import"
    TEMPLATES_EDIT = "templates.edit"
    AUDIT_VIEW = "audit.view"
    CLIENT_SETTINGS = "client.settings"
    API_TOKENS = "client.api_tokens"
    SSO_SETTINGS = "client.sso"


OTHER_CLIENT = _("You can only manage users of your own company.")
NO_ADMIN_PAGES = _("Only admins and managers open the admin pages.")
ADMINS_ONLY = _("Only an admin can change the company's settings.")
ADMIN_TARGET = _("Only an admin can create or change an admin.")
BELOW_ONLY = _("A manager acts only on levels below their own: team leaders and agents.")
MFA_ADMINS_ONLY = _(
    "Only an admin can change MFA settings: the method, and the Email or Work phone it "
    "sends codes to."
)


@dataclass(frozen=True)
class Rule:
    op: Op
    what: Promise  # the operation, as the README says it
    admin: Scope
    manager: Scope
    refused: Promise  # the answer to a level whose cell is NO (an active manager's, say)
    team_leader: Scope = NO
    agent: Scope = NO
    on_users: bool = True  # False: the client's pages or settings, no user in particular

    def scope(self, level: str) -> Scope:
        cells = {
            Level.ADMIN.value: self.admin,
            Level.MANAGER.value: self.manager,
            Level.TEAM_LEADER.value: self.team_leader,
            Level.AGENT.value: self.agent,
        }
        return cells.get(level, NO)

    @property
    def admins_only(self) -> bool:
        return all(self.scope(level) is NO for level in Level.values if level != Level.ADMIN)


TABLE: tuple[Rule, ...] = (
    Rule(Op.ADMIN_PAGES, _("Open the admin pages"), ANY, ANY, NO_ADMIN_PAGES, on_users=False),
    Rule(Op.USERS_VIEW, _("See the User list and a user's page"), ANY, ANY, NO_ADMIN_PAGES),
    Rule(Op.USERS_EXPORT, _("Download the list (CSV)"), ANY, ANY, NO_ADMIN_PAGES),
    Rule(Op.USER_CREATE, _("Create a user"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(
        Op.USER_CHANGE,
        _("Change a user's name, level, Email or Work phone"),
        ANY,
        BELOW,
        NO_ADMIN_PAGES,
    ),
    Rule(Op.USER_DEACTIVATE, _("Set a user Active or Inactive"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(Op.USER_PASSWORD, _("Set a temporary password"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(
        Op.USER_MFA,
        _("Change MFA settings: the method, or the Email or Work phone it uses"),
        ANY,
        NO,
        MFA_ADMINS_ONLY,
    ),
    Rule(Op.USERS_MFA_BULK, _("Set MFA for many users"), ANY, NO, MFA_ADMINS_ONLY),
    Rule(
        Op.USER_RESET_FACTORS,
        _("Reset a user's authenticator app or passkeys"),
        ANY,
        NO,
        MFA_ADMINS_ONLY,
    ),
    Rule(Op.USER_SETUP_LINK, _("Send a set-up link"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(Op.USER_UNLOCK, _("Unlock a user"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(Op.USER_REVOKE_DEVICES, _("Revoke remembered devices"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(Op.USER_SIGN_OUT, _("Sign a user out everywhere"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(Op.INVITATION_RESEND, _("Resend an invitation"), ANY, BELOW, NO_ADMIN_PAGES),
    Rule(
        Op.INVITATION_REVOKE,
        _("Revoke an invitation"),
        ANY,
        NO,
        _("Only an admin can revoke an invitation."),
    ),
    Rule(Op.USER_DELETE, _("Delete a user"), ANY, NO, _("Only an admin can delete a user.")),
    Rule(
        Op.USERS_IMPORT,
        _("Import users (CSV), each row as Create or Change says"),
        ANY,
        BELOW,
        NO_ADMIN_PAGES,
    ),
    Rule(Op.TEMPLATES_EDIT, _("Edit message templates"), ANY, ANY, NO_ADMIN_PAGES, on_users=False),
    Rule(Op.AUDIT_VIEW, _("See the audit trail"), ANY, ANY, NO_ADMIN_PAGES, on_users=False),
    Rule(
        Op.CLIENT_SETTINGS,
        _("Change the company's settings (audit retention included)"),
        ANY,
        NO,
        ADMINS_ONLY,
        on_users=False,
    ),
    Rule(Op.API_TOKENS, _("Create and revoke API tokens"), ANY, NO, ADMINS_ONLY, on_users=False),
    Rule(Op.SSO_SETTINGS, _("Set up SSO and its domains"), ANY, NO, ADMINS_ONLY, on_users=False),
)

RULES: dict[Op, Rule] = {rule.op: rule for rule in TABLE}


def refusal(actor: User, op: Op, client_id: int, levels: Iterable[str] = ()) -> str | None:
    """Why `actor` may not do `op` to users of levels `levels` (as they are, or would
    become) of client `client_id`; None when they may. An inactive actor may do nothing,
    whatever their session says."""
    rule = RULES[op]
    if actor.client_id != client_id:
        return str(OTHER_CLIENT)
    scope = rule.scope(actor.level) if actor.is_active else NO
    if scope is NO:
        may_open = actor.is_active and actor.level in ADMIN_PAGE_LEVELS
        return str(rule.refused if may_open or rule.admins_only else NO_ADMIN_PAGES)
    if scope is BELOW:
        for level in levels:
            if RANK.get(level, -1) <= RANK[actor.level]:
                return str(ADMIN_TARGET if level == Level.ADMIN else BELOW_ONLY)
    return None


def allowed(actor: User, op: Op, target: User | None = None) -> bool:
    """Whether a page offers `op` (on `target`, a user) to `actor`: the buttons it hides
    are the ones the action would refuse."""
    if target is None:
        return refusal(actor, op, actor.client_id) is None
    return refusal(actor, op, target.client_id, [target.level]) is None


class May:
    """`allowed` for a template: `{% if may.user_unlock %}` (the `Op` names, lower case)."""

    def __init__(self, actor: User, target: User | None = None) -> None:
        self._actor, self._target = actor, target

    def __getattr__(self, name: str) -> bool:
        try:
            op = Op[name.upper()]
        except KeyError:
            raise AttributeError(name) from None
        return allowed(self._actor, op, self._target)


def check(by: Actor | User | None, op: Op, client_id: int, *levels: str) -> None:
    """`refusal` as PermissionDenied, for the action layer. An Actor without a user is the
    operator (any client) or a program with a token (its own client only)."""
    actor = by.user if isinstance(by, Actor) else by
    if isinstance(by, Actor) and by.client_id is not None and by.client_id != client_id:
        raise PermissionDenied(str(OTHER_CLIENT))
    if actor is None:
        return
    reason = refusal(actor, op, client_id, levels)
    if reason is not None:
        raise PermissionDenied(reason)


def check_now(by: Actor, op: Op, client_id: int, *levels: str) -> None:
    """`check` with the actor as stored now, inside a write with the client's row locked:
    a demotion or deactivation of the actor since their page loaded counts."""
    if by.user is None:
        check(by, op, client_id, *levels)
        return
    stored = User.objects.filter(pk=by.user.pk).first()
    if stored is None:
        raise PermissionDenied(str(NO_ADMIN_PAGES))
    check(Actor(user=stored, client_id=by.client_id), op, client_id, *levels)


def touches_mfa(before: object, after: object) -> bool:
    """Whether a change of a user (two `rules.UserState`s) changes their MFA settings: the
    method, or the Email or Work phone the method (before or after) sends codes to."""
    old_method = getattr(before, "mfa_method", "")
    new_method = getattr(after, "mfa_method", "")
    if old_method != new_method:
        return True
    for field, method in (("email", MfaMethod.EMAIL), ("work_phone", MfaMethod.SMS)):
        if new_method == method and getattr(before, field, "") != getattr(after, field, ""):
            return True
    return False


# --- the README's copy -----------------------------------------------------------------------

_CELL = {ANY: "any in own client", BELOW: "levels below own", NO: "no"}
_CELL_NO_USER = {**_CELL, ANY: "yes, own client"}


def markdown_table() -> str:
    """The table as the README shows it (English), one row per operation."""
    levels = [str(label) for label in Level.labels]
    lines = [
        "| Operation | " + " | ".join(levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for rule in TABLE:
        words = _CELL if rule.on_users else _CELL_NO_USER
        cells = [words[rule.scope(level)] for level in Level.values]
        lines.append(f"| {rule.what} (`{rule.op.value}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines)
