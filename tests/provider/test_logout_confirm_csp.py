"""RP-initiated logout's confirmation page lets its form lead to the app (issue 12).

When Deskgate asks before signing out (no id_token_hint, or one from another session), the
form's answer redirects to the app's post-logout URI on another origin; browsers apply the
page's form-action to that redirect, so the page allows that origin, and only it.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from deskgate.accounts.audit import OPERATOR
from deskgate.accounts.models import User
from deskgate.provider import registry
from tests.conftest import signed_in_client
from tests.signin.test_sessions import csp_directives

pytestmark = pytest.mark.django_db

APP = "https://reports.example"


def test_the_sign_out_confirmation_lets_its_form_lead_to_the_app(
    user_factory: Callable[..., User],
) -> None:
    app = registry.register_app(
        registry.AppInput(
            name="Reports",
            redirect_uris=[f"{APP}/callback"],
            post_logout_redirect_uris=[f"{APP}/bye"],
        ),
        by=OPERATOR,
    )
    http = signed_in_client(user_factory("agent", "off"))
    query = urlencode(
        {"client_id": app.application.client_id, "post_logout_redirect_uri": f"{APP}/bye"}
    )

    confirm = http.get(f"/o/logout/?{query}")  # no id_token_hint: Deskgate asks first

    assert confirm.status_code == 200
    assert csp_directives(confirm["Content-Security-Policy"])["form-action"] == f"'self' {APP}"
    # Deskgate's other pages keep 'self' alone.
    assert csp_directives(http.get("/account/")["Content-Security-Policy"])["form-action"] == (
        "'self'"
    )
