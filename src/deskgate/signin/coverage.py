"""Users > MFA coverage: which active users of a client a second factor protects, by what,
and why the others are not (issue 15).

`assess` answers for one user from plain facts (a table in the tests proves it);
`coverage_of` gathers the facts of every active user of a client in a bounded number of
queries, whatever their number: one read of the users with their app and passkey, and the
client's SSO settings. R4's shared addresses are found among those same rows, so nothing
is asked per user. It reads only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import models
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from deskgate.accounts import contact, rules
from deskgate.accounts.models import Client, Level, MfaMethod, User
from deskgate.signin.models import AuthenticatorApp, Passkey


class Protection(models.TextChoices):
    """What protects a user's sign-in beyond the password."""

    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    APP = "app", _("Authenticator app")
    PASSKEY = "passkey", _("Passkey")
    SSO = "sso", _("SSO")


class Gap(models.TextChoices):
    """Why an active user's sign-in has no second factor; the label is what the page says."""

    RELEASE = "release", _("Release 11.x")
    OFF = "off", _("MFA is Off")
    NO_DESTINATION = "no_destination", _("No destination")
    SHARED = "shared", _("Shared address")
    LANDLINE = "landline", _("Landline")
    COUNTRY = "country", _("Country not allowed")


# What the admin does about each gap, shown beside the reason.
REMEDIES = {
    Gap.RELEASE: _("MFA comes with release 25.x: ask your provider to upgrade the company."),
    Gap.OFF: _("Choose Email or SMS on the user page."),
    Gap.NO_DESTINATION: _("Fill in the field the method sends the code to."),
    Gap.SHARED: _("Give the user an address or number of their own, or choose the other method."),
    Gap.LANDLINE: _("Enter a mobile Work phone, or choose Email."),
    Gap.COUNTRY: _("Choose Email, or allow the country under Settings."),
}


@dataclass(frozen=True)
class Facts:
    """What decides one user's coverage: their fields and what the client allows."""

    supports_mfa: bool
    method: str
    email: str = ""
    work_phone: str = ""
    has_app: bool = False
    has_passkey: bool = False
    sso_mandatory: bool = False
    email_shared: bool = False  # another active user of the client has this Email (R4)
    phone_shared: bool = False  # ... or this Work phone
    mobile: bool = True  # SMS can reach the Work phone
    sms_allowed: bool = True  # the client sends SMS codes to its country


def assess(facts: Facts) -> tuple[tuple[Protection, ...], Gap | None]:
    """What protects this user's sign-in, and when nothing does, why (the first reason an
    admin would fix). A user with mandatory SSO signs in only through the company's
    provider; a release before 25.x has no second factor at all (R1); an authenticator
    app or a passkey is asked for whatever the method (signin.policy.owes_code); Email and
    SMS protect only when the code reaches exactly one person (R3, R4)."""
    found: list[Protection] = []
    if facts.sso_mandatory:
        found.append(Protection.SSO)
    if facts.supports_mfa:
        if facts.has_app:
            found.append(Protection.APP)
        if facts.has_passkey:
            found.append(Protection.PASSKEY)
    method_gap = _method_gap(facts)
    if facts.supports_mfa and method_gap is None and facts.method != MfaMethod.OFF:
        found.append(Protection(facts.method))
    if found:
        return tuple(found), None
    if not facts.supports_mfa:
        return (), Gap.RELEASE
    return (), method_gap or Gap.OFF


def _method_gap(facts: Facts) -> Gap | None:
    """Why the user's Email or SMS method cannot protect them, or None when it can."""
    if facts.method == MfaMethod.OFF:
        return Gap.OFF
    if facts.method == MfaMethod.EMAIL:
        if not facts.email:
            return Gap.NO_DESTINATION
        return Gap.SHARED if facts.email_shared else None
    if not facts.work_phone:
        return Gap.NO_DESTINATION
    if not facts.mobile:
        return Gap.LANDLINE
    if facts.phone_shared:
        return Gap.SHARED
    return None if facts.sms_allowed else Gap.COUNTRY


@dataclass(frozen=True)
class Entry:
    """One active user as the coverage page lists them."""

    pk: int
    username: str
    full_name: str
    level: str
    mfa_method: str
    destination: str  # masked, as everywhere (a••••@example.com, +358 •• ••• ••12)
    protections: tuple[Protection, ...]
    gap: Gap | None
    shared_with: tuple[str, ...] = ()  # the other holders' labels, for a shared address

    @property
    def protected(self) -> bool:
        return self.gap is None

    @property
    def level_label(self) -> str:
        return str(Level(self.level).label)

    @property
    def method_label(self) -> str:
        return str(MfaMethod(self.mfa_method).label)

    @property
    def protection_labels(self) -> list[str]:
        return [str(p.label) for p in self.protections]

    @property
    def label(self) -> str:
        return f"{self.full_name} ({self.username})"


@dataclass
class LevelCoverage:
    """The counts of one level: active users, protected ones (by what: a user with two
    factors counts under both), and the others by reason."""

    level: str
    active: int = 0
    protected: int = 0
    by_protection: Counter[Protection] = field(default_factory=Counter)
    by_gap: Counter[Gap] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return str(Level(self.level).label) if self.level else str(_("All levels"))

    @property
    def unprotected(self) -> int:
        return self.active - self.protected

    @property
    def protection_counts(self) -> list[tuple[Protection, int]]:
        return [(p, self.by_protection[p]) for p in Protection]

    @property
    def gap_counts(self) -> list[tuple[Gap, int]]:
        return [(g, self.by_gap[g]) for g in Gap]

    def add(self, entry: Entry) -> None:
        self.active += 1
        if entry.gap is None:
            self.protected += 1
            self.by_protection.update(entry.protections)
        else:
            self.by_gap[entry.gap] += 1


@dataclass
class Coverage:
    """A client's coverage: every active user, and the counts per level and in all."""

    client: Client
    entries: list[Entry]
    levels: list[LevelCoverage]
    total: LevelCoverage

    @property
    def unprotected(self) -> list[Entry]:
        return [e for e in self.entries if e.gap is not None]


FIELDS = ("pk", "username", "full_name", "level", "email", "work_phone", "mfa_method")
LEVEL_ORDER = [Level.ADMIN, Level.MANAGER, Level.TEAM_LEADER, Level.AGENT]
SHARED_NAMES_SHOWN = 3


def coverage_of(client: Client) -> Coverage:
    """Every active user of `client` with what protects them or why nothing does; two
    queries whatever the number of users (the users with their factors, and the SSO
    settings unless the client came with them)."""
    rows = list(
        User.objects.filter(client=client, is_active=True)
        .annotate(
            app=Exists(
                AuthenticatorApp.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False)
            ),
            key=Exists(Passkey.objects.filter(user=OuterRef("pk"))),
        )
        .order_by("full_name", "id")
        .values_list(*FIELDS, "app", "key")
    )
    # R4 compares among the client's active users: these rows are all of them.
    emails: dict[str, list[int]] = defaultdict(list)
    phones: dict[str, list[int]] = defaultdict(list)
    labels: dict[int, str] = {}
    for pk, username, full_name, _level, email, phone, *_rest in rows:
        labels[pk] = f"{full_name} ({username})"
        if email:
            emails[contact.email_key(email)].append(pk)
        if phone:
            phones[phone].append(pk)
    sso_mandatory = rules.sso_mandatory(client)
    supports_mfa = client.supports_mfa
    entries: list[Entry] = []
    for pk, username, full_name, level, email, phone, method, app, key in rows:
        email_holders = emails.get(contact.email_key(email), []) if email else []
        phone_holders = phones.get(phone, []) if phone else []
        sms = method == MfaMethod.SMS and bool(phone)
        mobile, masked_phone = phone_facts(phone) if sms else (True, "")
        facts = Facts(
            supports_mfa=supports_mfa,
            method=method,
            email=email,
            work_phone=phone,
            has_app=bool(app),
            has_passkey=bool(key),
            sso_mandatory=sso_mandatory,
            email_shared=len(email_holders) > 1,
            phone_shared=len(phone_holders) > 1,
            mobile=mobile,
            sms_allowed=client.sms_allowed_to(phone) if sms else True,
        )
        protections, gap = assess(facts)
        shared: list[int] = []
        if gap == Gap.SHARED:
            shared = email_holders if method == MfaMethod.EMAIL else phone_holders
        entries.append(
            Entry(
                pk=pk,
                username=username,
                full_name=full_name,
                level=level,
                mfa_method=method,
                destination=masked_phone if sms else _masked(method, email, phone),
                protections=protections,
                gap=gap,
                shared_with=tuple(labels[o] for o in shared if o != pk),
            )
        )
    return _counted(client, entries)


def _counted(client: Client, entries: list[Entry]) -> Coverage:
    by_level = {level: LevelCoverage(level) for level in LEVEL_ORDER}
    total = LevelCoverage("")
    for entry in entries:
        by_level[Level(entry.level)].add(entry)
        total.add(entry)
    rank = {level: i for i, level in enumerate(LEVEL_ORDER)}
    # Admins first: theirs is the account that changes everyone else's.
    entries.sort(key=lambda e: rank[Level(e.level)])
    return Coverage(client, entries, list(by_level.values()), total)


@lru_cache(maxsize=100_000)
def phone_facts(e164: str) -> tuple[bool, str]:
    """(SMS reaches it, masked): a pure function of the number and phonenumbers' data, so
    kept per process. Parsing a number costs about 0.1 ms; a page of 10,000 users asks
    for thousands (bench/coverage.py), and the next visit asks for the same ones."""
    return contact.mobile_and_masked(e164)


def _masked(method: str, email: str, phone: str) -> str:
    if method == MfaMethod.EMAIL:
        return contact.mask_email(email)
    if method == MfaMethod.SMS:
        return contact.mask_phone(phone)
    return ""


def entries_where(
    entries: Iterable[Entry], *, level: str = "", gap: str = "", protected: bool | None = None
) -> list[Entry]:
    """The entries of one level and one reason (the page's filters); "" means any."""
    return [
        e
        for e in entries
        if (not level or e.level == level)
        and (not gap or e.gap == gap)
        and (protected is None or e.protected == protected)
    ]
