"""The User list an admin works from: its filters, its order and each row's status.

`ListQuery.parse` reads the list's GET parameters (also kept in the bulk form, so "all
users that match" means the list as shown). Every value is checked against a fixed set:
an unknown one is the default, never an error. `users_for` answers the matching users in
order; `facts_of` answers what the badges need for one page, in one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import access, rules
from deskgate.accounts.models import Client, Level, MfaMethod, User
from deskgate.signin.models import AuthenticatorApp, Passkey, SignInGuard
from deskgate.sso.models import SsoIdentity

QUERY_MAX = 100
EMPLOYMENT = ("active", "inactive", "all")

# The status filters, in the order the badges show. Each names a badge the row shows.
LOCKED, INACTIVE, MFA_OFF, NO_DESTINATION, SSO = (
    "locked",
    "inactive",
    "mfa_off",
    "no_destination",
    "sso",
)
FLAG_LABELS: dict[str, Promise] = {
    LOCKED: _("Locked"),
    INACTIVE: _("Inactive"),
    MFA_OFF: _("MFA off"),
    NO_DESTINATION: _("No destination"),
    SSO: _("SSO"),
}
FLAG_HELP: dict[str, Promise] = {
    LOCKED: _("Too many wrong codes or passwords: sign-in is locked for now."),
    INACTIVE: _("Cannot sign in: employment is Inactive."),
    MFA_OFF: _("Signs in with a password alone."),
    NO_DESTINATION: _("Neither an Email nor a Work phone: no code can reach them."),
    SSO: _("Signs in through the company's SSO."),
}
# Filters offered in the Status filter (Inactive has the Employment filter).
STATUS_FILTERS = (LOCKED, MFA_OFF, NO_DESTINATION, SSO)

# The MFA filter: the method, or a strong factor the user has set up.
APP, PASSKEY = "app", "passkey"
MFA_FILTERS: dict[str, Promise] = {
    MfaMethod.OFF.value: _("Off"),
    MfaMethod.EMAIL.value: _("Email"),
    MfaMethod.SMS.value: _("SMS"),
    APP: _("Authenticator app"),
    PASSKEY: _("Passkey"),
}

# Sortable columns: the key in the URL, and its order (ties broken by id).
SORTS = ("name", "username", "level", "mfa", "last_sign_in")
DEFAULT_SORT = "name"
LEVEL_RANK: dict[str, int] = {
    Level.ADMIN.value: 0,
    Level.MANAGER.value: 1,
    Level.TEAM_LEADER.value: 2,
    Level.AGENT.value: 3,
}
MFA_RANK: dict[str, int] = {
    MfaMethod.OFF.value: 0,
    MfaMethod.EMAIL.value: 1,
    MfaMethod.SMS.value: 2,
}


def _one(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name, "")
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class ListQuery:
    """What the admin asked the list for: search, filters, order and page."""

    q: str = ""
    level: str = ""
    status: str = "active"  # employment: active, inactive, all
    flag: str = ""  # one of STATUS_FILTERS, or every user
    mfa: str = ""  # one of MFA_FILTERS, or every user
    sort: str = DEFAULT_SORT
    descending: bool = False
    page: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> ListQuery:
        # A NUL cannot be in any stored field, and PostgreSQL refuses it in a query parameter.
        q = _one(params, "q").replace("\x00", "").strip()[:QUERY_MAX]
        level = _one(params, "level")
        status = _one(params, "status") or "active"
        flag, mfa = _one(params, "flag"), _one(params, "mfa")
        sort = _one(params, "sort")
        descending = sort.startswith("-")
        sort = sort.removeprefix("-")
        if sort not in SORTS:
            sort, descending = DEFAULT_SORT, False
        return cls(
            q=q,
            level=level if level in Level.values else "",
            # An unknown employment value filters nothing (as it always did).
            status=status if status in EMPLOYMENT else "all",
            flag=flag if flag in STATUS_FILTERS else "",
            mfa=mfa if mfa in MFA_FILTERS else "",
            sort=sort,
            descending=descending,
            page=_one(params, "page")[:20],
        )

    @property
    def sort_param(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    def params(self, *, page: bool = False) -> list[tuple[str, str]]:
        """The query as URL parameters: search and filters always, the rest when set."""
        pairs = [("q", self.q), ("level", self.level), ("status", self.status)]
        pairs += [
            (name, value) for name, value in (("flag", self.flag), ("mfa", self.mfa)) if value
        ]
        if (self.sort, self.descending) != (DEFAULT_SORT, False):
            pairs.append(("sort", self.sort_param))
        if page and self.page:
            pairs.append(("page", self.page))
        return pairs

    def querystring(self, **changes: Any) -> str:
        return urlencode(replace(self, **changes).params(page="page" in changes))

    @property
    def filters_only(self) -> str:
        """Search and filters, as the bulk form keeps them for "all users that match"."""
        return urlencode([(k, v) for k, v in self.params() if k != "sort"])

    def sort_link(self, key: str) -> str:
        """The link of a column heading: ascending first, the other way when sorted by it."""
        descending = key == self.sort and not self.descending
        return "?" + self.querystring(sort=key, descending=descending, page="")

    def aria_sort(self, key: str) -> str:
        if key != self.sort:
            return ""
        return "descending" if self.descending else "ascending"


@dataclass(frozen=True)
class Column:
    key: str
    label: Promise
    link: str
    aria_sort: str


def sort_columns(query: ListQuery) -> dict[str, Column]:
    labels: dict[str, Promise] = {
        "name": _("Name"),
        "username": _("User name"),
        "level": _("Level"),
        "mfa": _("MFA"),
        "last_sign_in": _("Last sign-in"),
    }
    return {
        key: Column(key, label, query.sort_link(key), query.aria_sort(key))
        for key, label in labels.items()
    }


# -- the query -----------------------------------------------------------------------------


def _app() -> Exists:
    return Exists(AuthenticatorApp.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False))


def _passkey() -> Exists:
    return Exists(Passkey.objects.filter(user=OuterRef("pk")))


def _locked(now: datetime) -> Exists:
    guard = SignInGuard.objects.filter(user=OuterRef("pk"))
    return Exists(guard.filter(Q(locked_until__gt=now) | Q(password_locked_until__gt=now)))


def _sso_identity() -> Exists:
    return Exists(SsoIdentity.objects.filter(user=OuterRef("pk")))


def mfa_usable(client: Client) -> bool:
    """Whether codes play a part in this client's password sign-ins at all: not before
    release 25.x (R1), not where everyone signs in through SSO."""
    return client.supports_mfa and not rules.sso_mandatory(client)


def flag_condition(flag: str, client: Client, now: datetime) -> Q | Exists | None:
    """The condition of a status filter, matching exactly the rows that show its badge."""
    if flag == LOCKED:
        return _locked(now)
    if flag in (MFA_OFF, NO_DESTINATION) and not mfa_usable(client):
        return Q(pk__in=[])  # the badge is not shown where MFA is not used
    if flag == MFA_OFF:
        return Q(mfa_method=MfaMethod.OFF) & ~_app() & ~_passkey()
    if flag == NO_DESTINATION:
        return Q(email="", work_phone="")
    if flag == SSO:
        if rules.sso_mandatory(client):
            return Q()
        return _sso_identity() if rules.sso_configured(client) else Q(pk__in=[])
    return None


def users_for(admin: User, query: ListQuery) -> QuerySet[User]:
    """The users of the admin's client that match `query`, in its order."""
    client = admin.client
    users = access.users_for_admin(admin).only("id", *rules.USER_FIELDS, "client_id", "last_login")
    if query.q:
        users = users.filter(rules.users_matching(client, query.q))
    if query.level:
        users = users.filter(level=query.level)
    if query.status != "all":
        users = users.filter(is_active=query.status == "active")
    condition = flag_condition(query.flag, client, timezone.now())
    if condition is not None:
        users = users.filter(condition)
    if query.mfa == APP:
        users = users.filter(_app())
    elif query.mfa == PASSKEY:
        users = users.filter(_passkey())
    elif query.mfa:
        users = users.filter(mfa_method=query.mfa)
    return users.order_by(*_ordering(query))


def _rank(field_name: str, ranks: Mapping[str, int]) -> Case:
    whens = [When(**{field_name: value}, then=Value(rank)) for value, rank in ranks.items()]
    return Case(*whens, default=Value(len(ranks)), output_field=IntegerField())


def _ordering(query: ListQuery) -> list[Any]:
    desc = query.descending
    tie = "-id" if desc else "id"
    if query.sort == "name":
        # Unfiltered, the (client, full_name) index gives the order; for a search, ordering
        # by an expression lets PostgreSQL take the trigram index and sort the matches
        # instead of walking every name in order until 50 match.
        name: Any = Lower("full_name") if query.q else F("full_name")
        return [name.desc() if desc else name.asc(), tie]
    if query.sort == "last_sign_in":
        # Never signed in: last whichever way.
        last = F("last_login")
        key: Any = last.desc(nulls_last=True) if desc else last.asc(nulls_last=True)
        return [key, F("full_name").desc() if desc else F("full_name").asc(), tie]
    key = {
        "username": Lower("username"),
        "level": _rank("level", LEVEL_RANK),
        "mfa": _rank("mfa_method", MFA_RANK),
    }[query.sort]
    name = F("full_name")
    return [key.desc() if desc else key.asc(), name.desc() if desc else name.asc(), tie]


# -- one page's badges ---------------------------------------------------------------------


@dataclass
class RowFacts:
    app: bool = False
    passkey: bool = False
    locked: bool = False
    sso_identity: bool = False


@dataclass(frozen=True)
class Badge:
    key: str
    label: Promise
    help: Promise


@dataclass
class Row:
    user: User
    strong: list[str]
    badges: list[Badge] = field(default_factory=list)


def facts_of(user_ids: Iterable[int]) -> dict[int, RowFacts]:
    """What the badges and the MFA column need of a page's users, in one query."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = (
        User.objects.filter(pk__in=ids)
        .annotate(
            has_app=_app(),
            has_passkey=_passkey(),
            is_locked=_locked(timezone.now()),
            has_sso=_sso_identity(),
        )
        .values_list("pk", "has_app", "has_passkey", "is_locked", "has_sso")
    )
    return {pk: RowFacts(bool(a), bool(k), bool(lk), bool(s)) for pk, a, k, lk, s in rows}


def badges(user: User, facts: RowFacts, client: Client) -> list[Badge]:
    """The user's status badges (key, text), as the status filters find them."""
    found = []
    if facts.locked:
        found.append(LOCKED)
    if not user.is_active:
        found.append(INACTIVE)
    if mfa_usable(client):
        if user.mfa_method == MfaMethod.OFF and not (facts.app or facts.passkey):
            found.append(MFA_OFF)
        if not user.email and not user.work_phone:
            found.append(NO_DESTINATION)
    if rules.sso_mandatory(client) or (rules.sso_configured(client) and facts.sso_identity):
        found.append(SSO)
    return [Badge(key, FLAG_LABELS[key], FLAG_HELP[key]) for key in found]


def rows_for(users: Iterable[User], client: Client) -> list[Row]:
    page = list(users)
    facts = facts_of(u.pk for u in page)
    rows = []
    for user in page:
        mine = facts.get(user.pk, RowFacts())
        strong = [str(_("App"))] * mine.app + [str(_("Passkey"))] * mine.passkey
        rows.append(Row(user, strong, badges(user, mine, client)))
    return rows
