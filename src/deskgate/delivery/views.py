from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from deskgate.delivery.app_settings import app_settings
from deskgate.delivery.models import OutboxMessage


def outbox(request: HttpRequest) -> HttpResponse:
    """The demo's mailbox and phone: only in a demo or debug run without EMAIL_URL/SMS_URL."""
    if not app_settings.OUTBOX_PAGE:
        raise Http404("There is no outbox: messages are sent for real.")
    messages = OutboxMessage.objects.all()[:50]
    return render(request, "delivery/outbox.html", {"outbox_messages": messages})
