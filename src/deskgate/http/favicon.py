"""/favicon.ico: browsers ask for it on their own (for a JSON answer, an image opened
directly, a bookmark) even though every page names its icon, so the path answers with the
SVG icon rather than a 404 in every log."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.views.decorators.http import require_safe

ICON = "deskgate/favicon.svg"


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    # A temporary redirect: the static URL may change with a new release's file names.
    response = HttpResponseRedirect(static(ICON))
    response["Cache-Control"] = "public, max-age=86400"
    return response
