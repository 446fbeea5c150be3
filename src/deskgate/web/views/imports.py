"""Users > Import: a CSV file checked row by row (the dry run), then applied whole; and the
user list as a CSV file in the same columns. Thin views over `actions.imports`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from deskgate.accounts import rules
from deskgate.accounts.actions import imports
from deskgate.accounts.permissions import Op
from deskgate.http.actors import actor_for
from deskgate.http.guards import acting_user, admin_pages, may
from deskgate.web import userlist
from deskgate.web.csv_export import csv_response
from deskgate.web.step_up import step_up

TEMPLATE = "web/users/import.html"


def _applying(request: HttpRequest, admin: Any, kwargs: dict[str, Any]) -> bool:
    """Only applying a file writes; checking one (the dry run) changes nothing."""
    return request.method == "POST" and "apply" in request.POST


@admin_pages
@may(Op.USERS_IMPORT)
@step_up("user_import", "import users from a file", back="user_import", needed=_applying)
def user_import(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    context: dict[str, Any] = {
        "columns": imports.COLUMNS,
        "client": admin.client,
        "sso_mandatory": rules.sso_mandatory(admin.client),
    }
    if request.method != "POST":
        return render(request, TEMPLATE, context)
    applying = "apply" in request.POST
    if applying:
        content = request.POST.get("content", "").encode("utf-8")
        filename = request.POST.get("filename", "")[:200]
    else:
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = _("Choose a CSV file to check.")
            return render(request, TEMPLATE, context, status=400)
        if upload.size is not None and upload.size > imports.MAX_BYTES:
            context["error"] = _("The file is larger than 2 MB. Split it into smaller files.")
            return render(request, TEMPLATE, context, status=400)
        content = upload.read()
        filename = (upload.name or "")[:200]
    context["filename"] = filename
    invite = applying and request.POST.get("invite") == "1"
    try:
        rows = imports.read_csv(content)
        result = imports.import_users(
            admin.client,
            rows,
            by=actor_for(request, admin),
            dry_run=not applying,
            source=filename,
            invite=invite,
        )
    except imports.FileError as exc:
        context["error"] = str(exc)
        return render(request, TEMPLATE, context, status=400)
    except (ValidationError, PermissionDenied) as exc:
        context["error"] = " ".join(getattr(exc, "messages", [str(exc)]))
        return render(request, TEMPLATE, context, status=400)
    context |= {
        "result": result,
        # The checked file goes back with the Apply button: the real run checks it again.
        "content": content.decode("utf-8-sig") if not result.refused else "",
        "applied": result.applied,
        "invited": invite,
    }
    return render(request, TEMPLATE, context)


@admin_pages
@may(Op.USERS_EXPORT)
def user_export(request: HttpRequest) -> HttpResponseBase:
    """The User list as CSV, with its search, filters and order, in the columns Import
    reads back."""
    admin = acting_user(request)
    users = userlist.users_for(admin, userlist.ListQuery.parse(request.GET))
    stamp = timezone.localdate().isoformat()
    name = f"{slugify(admin.client.name) or 'users'}-users-{stamp}.csv"
    return csv_response(name, imports.COLUMNS, imports.user_values(users.iterator(chunk_size=2000)))
