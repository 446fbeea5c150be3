"""The audit trail (R9): the client's events, filtered, paged and downloadable as CSV, with
times in the viewer's time zone. Rights come from `access.audit_for_admin`; what to keep
from `accounts.audit_filters`, shared with the REST API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import cached_property

from deskgate.accounts import access
from deskgate.accounts.models import AuditEvent, User
from deskgate.http.guards import acting_user, admin_pages
from deskgate.web.audit_form import AuditFilterForm
from deskgate.web.csv_export import csv_response

PAGE_SIZE = 50
# Text matches no index serves: counting a million of them costs more than the page.
TEXT_COUNT_CAP = 10_000

if TYPE_CHECKING:
    _EventPaginator = Paginator[AuditEvent]
else:  # Django's Paginator is generic in its stubs only
    _EventPaginator = Paginator


class CappedPaginator(_EventPaginator):
    """Counts up to the cap; past it the page says so and pages through the first ones."""

    @cached_property
    def count(self) -> int:
        head = self.object_list[: TEXT_COUNT_CAP + 1]
        return head.count() if isinstance(head, QuerySet) else len(head)

    @property
    def capped(self) -> bool:
        return self.count > TEXT_COUNT_CAP

    @property
    def cap(self) -> int:
        return TEXT_COUNT_CAP


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent] | None, Any]:
    """The form as typed, and the events it keeps (None when the filters are not valid);
    a `user` id that is not one of the admin's users answers 404, as everywhere (R10)."""
    admin = acting_user(request)
    subject_user: User | None = None
    if request.GET.get("user"):
        subject_user = access.get_user_for_admin(admin, request.GET["user"])
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return form, None, subject_user
    wanted = form.to_filter(subject_user)
    events = wanted.apply(access.audit_for_admin(admin)).order_by("-at", "-id")
    return form, events, subject_user


def _kept_query(request: HttpRequest) -> str:
    """The filters as typed, for the pager's and the download's links."""
    kept = request.GET.copy()
    kept.pop("page", None)
    return kept.urlencode()


@admin_pages
def audit_trail(request: HttpRequest) -> HttpResponse:
    form, events, subject_user = _filtered(request)
    page = None
    if events is not None:
        by_text = form.to_filter(subject_user).narrows_by_text
        paginator_class = CappedPaginator if by_text else Paginator
        page = paginator_class(events, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "subject_user": subject_user,
        "kept": _kept_query(request),
        "filtered": any(v for k, v in request.GET.items() if k not in ("page", "user")),
    }
    return render(request, "web/audit.html", context, status=200 if page is not None else 400)


CSV_HEADER = ("when", "time_zone", "what", "who", "whom", "destination", "from", "event")


@admin_pages
def audit_csv(request: HttpRequest) -> HttpResponseBase:
    """The filtered events, every one, newest first: the page's columns as shown (masked
    destinations), times in the viewer's zone."""
    form, events, subject_user = _filtered(request)
    if events is None:
        context = {"form": form, "page": None, "subject_user": subject_user, "kept": ""}
        return render(request, "web/audit.html", context, status=400)
    # Taken now: the rows are written after this view returns, maybe in another zone.
    zone = timezone.get_current_timezone()
    zone_name = timezone.get_current_timezone_name()

    def rows() -> Iterator[tuple[object, ...]]:
        for e in events.iterator(chunk_size=2000):
            yield (
                timezone.localtime(e.at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                zone_name,
                e.summary,
                e.actor_label,
                e.subject_label,
                e.destination,
                e.ip or "",
                e.action,
            )

    stamp = timezone.localtime(timezone.now(), zone).strftime("%Y-%m-%d")
    slug = acting_user(request).client.slug
    return csv_response(f"audit-{slug}-{stamp}.csv", CSV_HEADER, rows())
