"""The step-up's own two pages: start the check, and come back when it passed."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from deskgate.http.guards import acting_user
from deskgate.signin import pipeline
from deskgate.signin import step_up as flow
from deskgate.web.step_up import PURPOSES, return_target


@login_required
@require_POST
def begin(request: HttpRequest) -> HttpResponse:
    """Check a second factor again (or the password, for who has none), then come back."""
    user = acting_user(request)
    then = return_target(request.POST.get("then"))
    purpose = request.POST.get("purpose", "")
    flow.ask(request, then=then, purpose=purpose if purpose in PURPOSES else "")
    if flow.asks_code(user):
        pending = pipeline.begin_step_up(request, user)
        pipeline.return_after(request, reverse("step_up_done"))
        return redirect(pipeline.advance(request, pending))
    pipeline.ask_again(request, reverse("step_up_done"))
    return redirect("signin:password")


@login_required
@never_cache
def done(request: HttpRequest) -> HttpResponse:
    """Where the check comes back to: audit it once, then on to the page the admin was on."""
    user = acting_user(request)
    asked = flow.asked(request)
    if asked is None:
        return redirect("home")
    then, purpose = return_target(asked[0]), asked[1]
    if flow.checked_recently(request, user):
        doing = PURPOSES.get(purpose, "make a sensitive change")
        flow.passed(request, user, purpose=purpose, doing=doing, then=then)
        messages.success(request, gettext("Checked. You can %(doing)s now.") % {"doing": doing})
    return redirect(then)
