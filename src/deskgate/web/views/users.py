"""Users > User list, Create, edit by Name, and bulk MFA: thin views over the actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_POST

from deskgate.accounts import access, actions, permissions, rules
from deskgate.accounts.actions import invitations
from deskgate.accounts.models import AuditEvent, Level, MfaMethod, User
from deskgate.accounts.permissions import Op
from deskgate.http.actors import actor_for
from deskgate.http.forms import add_errors
from deskgate.http.guards import acting_user, admin_pages, forbidden, may
from deskgate.signin import challenge, enrolment, factors, passkeys, policy
from deskgate.signin import step_up as step_up_flow
from deskgate.web import userlist
from deskgate.web.forms import BulkMfaForm, UserForm
from deskgate.web.step_up import step_up
from deskgate.web.views import bulk as bulk_views
from deskgate.web.views import sessions as session_views
from deskgate.web.views.templates import with_template_links

PAGE_SIZE = 50
SEARCH_COUNT_CAP = 1000


if TYPE_CHECKING:
    _UserPaginator = Paginator[User]
else:  # Django's Paginator is generic in its stubs only
    _UserPaginator = Paginator


class CappedPaginator(_UserPaginator):
    """Counts a search's matches up to a cap: counting 10,000 matches of two typed letters
    costs more than showing the first page; past the cap the page says to narrow it."""

    @cached_property
    def count(self) -> int:
        head = self.object_list[: SEARCH_COUNT_CAP + 1]
        return head.count() if isinstance(head, QuerySet) else len(head)

    @property
    def capped(self) -> bool:
        return self.count > SEARCH_COUNT_CAP

    @property
    def cap(self) -> int:
        return SEARCH_COUNT_CAP

    def page(self, number: Any) -> Page[User]:
        # Whole pages even when the count stopped at the cap.
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        items = self.object_list[bottom : bottom + self.per_page]
        return Page(items, number, self)


@admin_pages
def user_list(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    # Back from a refused bulk change (an error, or a step-up): the list and the choices
    # as the admin left them.
    kept = bulk_views.take_kept(request)
    query = userlist.ListQuery.parse(kept.list_params if kept else request.GET)
    paginator_class = CappedPaginator if query.q else Paginator
    users = userlist.users_for(admin, query)
    page = paginator_class(users, PAGE_SIZE).get_page(query.page)
    client = admin.client
    columns = userlist.sort_columns(query)
    context: dict[str, Any] = {
        "page": page,
        "rows": userlist.rows_for(page, client),
        "query": query,
        "q": query.q,
        "level": query.level,
        "status": query.status,
        "columns": [columns[key] for key in ("name", "username", "level", "mfa")],
        "last_column": columns["last_sign_in"],
        "previous_query": query.querystring(page=str(page.number - 1)),
        "next_query": query.querystring(page=str(page.number + 1)),
        "levels": Level.choices,
        "methods": MfaMethod.choices,
        "flags": {k: userlist.FLAG_LABELS[k] for k in userlist.STATUS_FILTERS},
        "mfa_filters": userlist.MFA_FILTERS,
        "client": client,
        "mfa_usable": userlist.mfa_usable(client),
        "sso_mandatory": rules.sso_mandatory(client),
        "bulk_form": BulkMfaForm(initial=kept.initial if kept else None),
        "may": permissions.May(admin),
        "checked": set(kept.users) if kept else set(),
    }
    template = "web/users/_results.html" if request.GET.get("partial") else "web/users/list.html"
    return render(request, template, context)


def _warnings_now(user: User) -> list[str]:
    state = rules.UserState.of(user)
    warnings = rules.user_template_warnings(user.client, state, user_label=user.label)
    return with_template_links(user.client, warnings)


@admin_pages
def user_create(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    client = admin.client
    form = UserForm(
        request.POST or None,
        client=client,
        acting=admin,
        initial={"employment": "active", "level": Level.AGENT},
    )
    if request.method == "POST" and form.is_valid():
        by = actor_for(request, admin)
        conflict = form.invitation_conflict()
        try:
            with transaction.atomic():
                saved = actions.create_user(
                    client,
                    form.to_input(),
                    by=by,
                    password=form.cleaned_data.get("password") or None,
                )
                if conflict:  # after the action's checks, so that theirs are said too
                    raise ValidationError({"invite": [form.INVITE_OR_PASSWORD]})
        except ValidationError as exc:
            add_errors(form, exc)
            if conflict and "invite" not in form.errors:
                form.add_error("invite", form.INVITE_OR_PASSWORD)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("%(user)s is created.") % {"user": saved.user.label})
            if form.sends_invitation():
                _invite(request, saved.user, by=by)
            for warning in with_template_links(saved.user.client, saved.warnings):
                messages.warning(request, warning)
            return redirect("user_edit", user_id=saved.user.pk)
    return render(
        request,
        "web/users/form.html",
        {
            "form": form,
            "client": client,
            "creating": True,
            "sso_mandatory": rules.sso_mandatory(client),
            "may": permissions.May(admin),
        },
    )


def _invite(request: HttpRequest, user: User, *, by: Any, again: bool = False) -> None:
    """Send (or resend) the invitation and say what happened; a refusal is a message."""
    try:
        send = actions.resend_invitation if again else actions.invite
        sent = send(user, by=by)
    except ValidationError as exc:
        messages.error(
            request,
            gettext("No invitation was sent: %(why)s") % {"why": " ".join(exc.messages)},
        )
    else:
        messages.success(
            request,
            ngettext(
                "An invitation was sent to %(destination)s. It works once, for %(hours)d hour.",
                "An invitation was sent to %(destination)s. It works once, for %(hours)d hours.",
                sent.hours,
            )
            % {"destination": sent.destination, "hours": sent.hours},
        )


# What proves who a user is (and Set password, which hands the account over as surely):
# changing it for someone needs a recent check (step-up).
SIGN_IN_FIELDS = frozenset({"mfa_method", "email", "work_phone", "password"})


def _changes_sign_in_fields(request: HttpRequest, admin: User, kwargs: dict[str, Any]) -> bool:
    """A Save that would change the user's MFA method, Email, Work phone or password."""
    if request.method != "POST":
        return False
    user = access.get_user_for_admin(admin, kwargs["user_id"])
    if permissions.refusal(admin, Op.USER_CHANGE, user.client_id, [user.level]) is not None:
        return False  # refused by the view anyway, with its reason
    form = UserForm(
        request.POST,
        client=user.client,
        acting=admin,
        user=user,
        initial=UserForm.initial_for(user),
    )
    changed = set(form.changed_data) & SIGN_IN_FIELDS
    if not user.client.supports_mfa:
        changed.discard("mfa_method")  # shown disabled; the action refuses a forced value
    return bool(changed)


@admin_pages
@step_up(
    "user_sign_in_fields",
    "change a user's MFA method, Email, Work phone or password",
    back="user_edit",
    needed=_changes_sign_in_fields,
)
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    refusal = permissions.refusal(admin, Op.USER_CHANGE, user.client_id, [user.level])
    if request.method == "POST" and refusal is not None:
        return forbidden(request, refusal)  # the actions' own check, asked before the form
    # Back from a step-up: the form as the admin had typed it (passwords excepted).
    draft = step_up_flow.take_draft(request) if refusal is None else None
    initial = UserForm.initial_for(user)
    form = UserForm(
        request.POST or None,
        client=user.client,
        acting=admin,
        user=user,
        initial={**initial, **step_up_flow.as_initial(draft)} if draft else initial,
        read_only=refusal is not None,
    )
    if request.method == "POST" and form.is_valid():
        by = actor_for(request, admin)
        try:
            # One Save, one write: a refused password undoes the rest of the edit too.
            with transaction.atomic():
                saved = actions.update_user(user, form.to_input(), by=by)
                if form.cleaned_data.get("password"):
                    actions.set_password(
                        saved.user, form.cleaned_data["password"], by=by, temporary=True
                    )
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, gettext("%(user)s is saved.") % {"user": saved.user.label})
            for warning in with_template_links(saved.user.client, saved.warnings):
                messages.warning(request, warning)
            return redirect("user_edit", user_id=saved.user.pk)
    events = AuditEvent.objects.filter(subject=user).order_by("-at", "-id")[:10]
    return render(
        request,
        "web/users/form.html",
        {
            "form": form,
            "client": user.client,
            "edited": user,
            "refusal": refusal,
            "may": permissions.May(admin, user),
            "sso_mandatory": rules.sso_mandatory(user.client),
            "events": events,
            "lock": challenge.lock_state(user),
            "badges": userlist.badges(
                user, userlist.facts_of([user.pk]).get(user.pk, userlist.RowFacts()), user.client
            ),
            "now": timezone.now(),
            "devices": session_views.device_rows(user),
            "sessions": session_views.session_rows(user),
            "app": factors.app_of(user),
            "strong_required": policy.strong_factor_required(user),
            "has_strong": factors.has_strong_factor(user),
            "passkeys": passkeys.passkeys_of(user),
            "invitation": invitation_facts(user),
            "r5_warnings": [] if request.method == "POST" else _warnings_now(user),
            # Delete is an admin's, never of oneself; the page says why else it is refused.
            "may_delete": admin.level == Level.ADMIN and admin.pk != user.pk,
        },
    )


@admin_pages
@require_POST
def user_unlock(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        unlocked = actions.unlock_user(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    if unlocked:
        messages.success(
            request, gettext("%(user)s is unlocked and can sign in again.") % {"user": user.label}
        )
    else:
        messages.info(request, gettext("%(user)s was not locked.") % {"user": user.label})
    return redirect("user_edit", user_id=user.pk)


@admin_pages
@require_POST
@may(Op.USER_RESET_FACTORS)  # refused before the step-up asks for a code
@step_up(
    "reset_authenticator",
    "reset a user's authenticator app",
    back="user_edit",
    keeps_draft=False,
)
def user_reset_authenticator(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        reset = factors.reset_app(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    if reset:
        messages.success(
            request,
            gettext(
                "The authenticator app of %(user)s is reset: they can set one up again from "
                "their account page."
            )
            % {"user": user.label},
        )
    else:
        messages.info(request, gettext("%(user)s has no authenticator app.") % {"user": user.label})
    return redirect("user_edit", user_id=user.pk)


@admin_pages
@require_POST
@may(Op.USER_RESET_FACTORS)
@step_up("reset_passkeys", "reset a user's passkeys", back="user_edit", keeps_draft=False)
def user_reset_passkeys(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        count = passkeys.reset(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    if count:
        messages.success(
            request,
            ngettext(
                "The passkeys of %(user)s are reset (%(count)d removed): they can add keys "
                "again from their account page.",
                "The passkeys of %(user)s are reset (%(count)d removed): they can add keys "
                "again from their account page.",
                count,
            )
            % {"user": user.label, "count": count},
        )
    else:
        messages.info(request, gettext("%(user)s has no passkeys.") % {"user": user.label})
    return redirect("user_edit", user_id=user.pk)


@admin_pages
@require_POST
def user_revoke_devices(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        count = actions.revoke_devices(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    messages.success(
        request,
        ngettext(
            "%(count)d remembered device of %(user)s revoked: the next sign-in asks for a code.",
            "%(count)d remembered devices of %(user)s revoked: the next sign-in asks for a code.",
            count,
        )
        % {"count": count, "user": user.label},
    )
    return redirect("user_edit", user_id=user.pk)


@admin_pages
@require_POST
def user_send_enrolment_link(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        sent = enrolment.send_link(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            ngettext(
                "A set-up link was sent to %(destination)s. It works once, for %(hours)d hour; "
                "an earlier link no longer works.",
                "A set-up link was sent to %(destination)s. It works once, for %(hours)d hours; "
                "an earlier link no longer works.",
                sent.hours,
            )
            % {"destination": sent.destination, "hours": sent.hours},
        )
    return redirect("user_edit", user_id=user.pk)


def invitation_facts(user: User) -> dict[str, Any]:
    """What the user page says of the user's invitation: the latest one and its state, and
    whether one may be sent now."""
    latest = invitations.latest_for(user)
    state = ""
    if latest is not None:
        if latest.accepted_at is not None:
            state = "accepted"
        elif latest.voided_at is not None:
            state = "revoked"
        elif latest.email.casefold() != user.email.casefold():
            state = "old_email"  # the link no longer works (invitations._still_meant)
        elif latest.expires_at <= timezone.now():
            state = "expired"
        else:
            state = "live"
    return {"latest": latest, "state": state, "refusal": invitations.refusal(user)}


@admin_pages
@require_POST
def user_send_invitation(request: HttpRequest, user_id: int) -> HttpResponse:
    """Send or Resend on the user page (a new invitation voids the earlier one)."""
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    again = invitations.latest_for(user) is not None
    try:
        _invite(request, user, by=actor_for(request, admin), again=again)
    except PermissionDenied as exc:
        return forbidden(request, exc)
    return redirect("user_edit", user_id=user.pk)


@admin_pages
@require_POST
def user_revoke_invitation(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = acting_user(request)
    user = access.get_user_for_admin(admin, user_id)
    try:
        count = actions.revoke_invitation(user, by=actor_for(request, admin))
    except PermissionDenied as exc:
        return forbidden(request, exc)
    if count:
        messages.success(
            request,
            gettext("The invitation of %(user)s is revoked: its link no longer works.")
            % {"user": user.label},
        )
    else:
        messages.info(
            request, gettext("%(user)s has no invitation that works.") % {"user": user.label}
        )
    return redirect("user_edit", user_id=user.pk)
