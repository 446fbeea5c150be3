"""Message templates: list, create, edit, and a preview for a chosen agent (R5)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from deskgate.accounts import access, actions, rules
from deskgate.accounts.models import Client, Level, MessageTemplate, User
from deskgate.http.actors import actor_for
from deskgate.http.forms import add_errors
from deskgate.http.guards import acting_user, admin_pages
from deskgate.web.forms import TemplateForm


def with_template_links(client: Client, warnings: list[str]) -> list[str]:
    """R5 warnings (plain text, as the API gives them) as HTML in which each quoted
    template name is a link to that template."""
    if not warnings:
        return []
    names = MessageTemplate.objects.filter(client=client).values_list("pk", "name")
    linked: list[str] = []
    for warning in warnings:
        text: str = conditional_escape(warning)
        for pk, name in names:
            quoted = conditional_escape(f"\u201c{name}\u201d")
            link = format_html(
                '<a href="{}">{}</a>', reverse("template_edit", args=[pk]), f"\u201c{name}\u201d"
            )
            text = text.replace(quoted, link)
        linked.append(mark_safe(text))  # noqa: S308  # built from escaped parts above
    return linked


@admin_pages
def template_list(request: HttpRequest) -> HttpResponse:
    admin = acting_user(request)
    templates = list(access.templates_for_admin(admin).select_related("client"))
    rows = [(t, rules.template_warnings(t)) for t in templates]
    return render(request, "web/templates/list.html", {"rows": rows})


def _initial(template: MessageTemplate) -> dict[str, str]:
    return {
        "name": template.name,
        "channel": template.channel,
        "sender": template.sender,
        "subject": template.subject,
        "body": template.body,
    }


def _edit(request: HttpRequest, admin: User, template: MessageTemplate | None) -> HttpResponse:
    form = TemplateForm(
        request.POST or None, initial=_initial(template) if template is not None else None
    )
    if request.method == "POST" and form.is_valid():
        try:
            saved, warnings = actions.save_template(
                admin.client, template, form.to_input(), by=actor_for(request, admin)
            )
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, gettext("The template “%(name)s” is saved.") % {"name": saved.name}
            )
            for warning in warnings:
                messages.warning(request, warning)
            return redirect("template_edit", template_id=saved.pk)
    agents = access.users_for_admin(admin).filter(level=Level.AGENT, is_active=True)
    agents = agents.order_by("full_name").only("id", "full_name", "username")[:200]
    preview = None
    chosen = None
    if template is not None:
        agent_id = request.GET.get("agent")
        chosen = access.get_user_for_admin(admin, agent_id) if agent_id else agents.first()
        if chosen is not None:
            preview = {
                "sender": rules.render_template_text(template.sender, chosen),
                "subject": rules.render_template_text(template.subject, chosen),
                "body": rules.render_template_text(template.body, chosen),
            }
    return render(
        request,
        "web/templates/form.html",
        {
            "form": form,
            "template_obj": template,
            "warnings": rules.template_warnings(template) if template is not None else [],
            "agents": agents,
            "chosen": chosen,
            "preview": preview,
            "tags": list(rules.TEMPLATE_TAGS),
        },
    )


@admin_pages
def template_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, acting_user(request), None)


@admin_pages
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    admin = acting_user(request)
    return _edit(request, admin, access.get_template_for_admin(admin, template_id))
