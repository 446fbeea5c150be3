"""Users > MFA coverage: who among the active users a second factor protects, by what, and
who it does not and why, each with the page that fixes it; and the same list as CSV."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from deskgate.accounts.models import Level
from deskgate.http.guards import acting_user, admins_only
from deskgate.signin import coverage
from deskgate.signin.coverage import Entry, Gap
from deskgate.web.csv_export import csv_response

PAGE_SIZE = 100


def fix_url(entry: Entry) -> str:
    """The page that fixes the user's gap: the client's settings for the release, else the
    user's own page."""
    if entry.gap == Gap.RELEASE:
        return reverse("client_settings")
    return reverse("user_edit", args=[entry.pk])


def reason_text(entry: Entry) -> str:
    """The reason as the page and the CSV say it, naming who shares the address."""
    if entry.gap is None:
        return ""
    text = str(entry.gap.label)
    if entry.shared_with:
        shown = ", ".join(entry.shared_with[: coverage.SHARED_NAMES_SHOWN])
        more = len(entry.shared_with) - coverage.SHARED_NAMES_SHOWN
        if more > 0:
            shown = _("%(names)s and %(count)d more") % {"names": shown, "count": more}
        text = _("%(reason)s with %(names)s") % {"reason": text, "names": shown}
    return text


def _remedy(entry: Entry) -> str:
    return str(coverage.REMEDIES[entry.gap]) if entry.gap is not None else ""


@admins_only
def user_coverage(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    found = coverage.coverage_of(admin.client)
    level = request.GET.get("level", "")
    gap = request.GET.get("reason", "")
    level = level if level in Level.values else ""
    gap = gap if gap in Gap.values else ""
    listed = coverage.entries_where(found.entries, level=level, gap=gap, protected=False)
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "coverage": found,
        "client": admin.client,
        "protections": coverage.Protection.choices,
        "gaps": Gap.choices,
        "rows": [(e, reason_text(e), _remedy(e), fix_url(e)) for e in page],
        "page": page,
        "level": level,
        "reason": gap,
        "levels": Level.choices,
        "filtered": bool(level or gap),
    }
    return render(request, "web/users/coverage.html", context)


CSV_HEADER = (
    "username",
    "full_name",
    "level",
    "protected",
    "protected_by",
    "reason",
    "mfa",
    "destination",
    "fix",
)


@admins_only
def user_coverage_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every active user, the unprotected first, with what protects them or why nothing
    does; the destination masked as on the page."""
    admin = acting_user(request)
    found = coverage.coverage_of(admin.client)
    ordered = sorted(found.entries, key=lambda e: e.protected)  # stable: level order kept
    yes, no = _("yes"), _("no")
    base = settings.DESKGATE_BASE_URL.rstrip("/")  # links point there, never at the request's host
    rows = (
        (
            e.username,
            e.full_name,
            e.level_label,
            yes if e.protected else no,
            "; ".join(e.protection_labels),
            reason_text(e),
            e.method_label,
            e.destination,
            "" if e.protected else base + fix_url(e),
        )
        for e in ordered
    )
    stamp = timezone.localtime().strftime("%Y-%m-%d")
    return csv_response(f"mfa-coverage-{admin.client.slug}-{stamp}.csv", CSV_HEADER, rows)
