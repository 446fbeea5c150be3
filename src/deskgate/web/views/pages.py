"""Home, the user's own account page and the client's settings (the audit trail: audit.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from deskgate.accounts import actions, languages
from deskgate.accounts.models import AuditEvent, User
from deskgate.http.actors import actor_for
from deskgate.http.forms import add_errors
from deskgate.http.guards import acting_user, admins_only
from deskgate.signin import devices, factors, passkeys
from deskgate.signin import step_up as step_up_flow
from deskgate.web.forms import ClientSettingsForm, PreferencesForm
from deskgate.web.step_up import step_up
from deskgate.web.views import sessions as session_views


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if acting_user(request).can_open_admin_pages:
        return redirect("user_list")
    return redirect("account")


def _preferences_form(user: User, data: QueryDict | None = None) -> PreferencesForm:
    default = dict(languages.language_choices()).get(user.client.default_language)
    return PreferencesForm(
        data,
        initial={"language": user.language, "time_zone": user.time_zone},
        default_label=gettext("Company default (%(language)s)") % {"language": default}
        if default
        else gettext("Company default (the browser's language)"),
    )


@login_required
def account(request: HttpRequest, preferences: PreferencesForm | None = None) -> HttpResponse:
    user = acting_user(request)
    events = AuditEvent.objects.filter(subject=user).order_by("-at", "-id")[:10]
    return render(
        request,
        "web/account.html",
        {
            "me": user,
            "events": events,
            "sessions": session_views.session_rows(user, current_key=request.session.session_key),
            "devices": session_views.device_rows(user),
            "app": factors.app_of(user),
            "recovery_left": factors.recovery_codes_left(user),
            "passkeys": passkeys.passkeys_of(user),
            "preferences": preferences or _preferences_form(user),
            "zone_names": languages.zone_names(),
            "company_zone": user.client.time_zone,
        },
    )


@login_required
@require_POST
def change_preferences(request: HttpRequest) -> HttpResponse:
    """The user's own language and time zone (not a sign-in factor: no step-up)."""
    user = acting_user(request)
    form = _preferences_form(user, request.POST)
    if form.is_valid():
        try:
            actions.change_own_preferences(
                user,
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
                by=actor_for(request, user),
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            # The next page is read in the new language: say it in that language.
            with languages.in_language_of(user, fallback=request.LANGUAGE_CODE):
                messages.success(request, gettext("Your language and time zone are saved."))
            return redirect("account")
    return account(request, preferences=form)


@login_required
@require_POST
def forget_devices(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    count = devices.revoke_all(user, by=actor_for(request, user))
    messages.success(
        request,
        ngettext(
            "%(count)d remembered device forgotten.",
            "%(count)d remembered devices forgotten.",
            count,
        )
        % {"count": count},
    )
    return redirect("account")


@admins_only
@step_up("client_settings", "change the client settings", back="client_settings")
def client_settings(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    client = admin.client
    draft = step_up_flow.take_draft(request)  # back from a step-up: as typed
    form = ClientSettingsForm(
        request.POST or None,
        client=client,
        initial=step_up_flow.as_initial(draft) if draft else None,
    )
    if request.method == "POST" and form.is_valid():
        by = actor_for(request, admin)
        days = form.cleaned_data.get("audit_retention_days")
        hours, invite_directory = form.invitation_settings()
        try:
            # Both or neither: a refused retention leaves the other settings as they were.
            with transaction.atomic():
                client = actions.update_client_settings(client, by=by, **form.to_settings())
                if days is not None:
                    actions.set_audit_retention(client, days, by=by)
                if hours is not None:
                    client = actions.set_invitation_hours(client, hours, by=by)
                if invite_directory is not None:
                    actions.set_invite_directory_users(client, invite_directory, by=by)
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("The settings are saved."))
            return redirect("client_settings")
    return render(
        request,
        "web/settings.html",
        {"form": form, "client": client, "zone_names": languages.zone_names()},
    )
