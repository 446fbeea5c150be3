"""15. The password step's one answer (issue 9, item 6).

Every refusal at the password step gets the same words (no enumeration: unknown user,
wrong password, inactive, locked), and those words tell the person who types the right
password into a locked step what is going on: sign-in pauses after many failed tries, and
an admin can unlock it.
"""

from __future__ import annotations

import pytest

from deskgate.signin.models import SignInGuard
from tests.conftest import PASSWORD
from tests.security.conftest import comparable, sessions_of, visible_text

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = (
    "The user name or password is not right. After many failed tries, sign-in pauses for "
    "a while; your admin can unlock it."
)


def test_a_locked_password_step_says_it_pauses_and_an_admin_can_unlock(
    browser, user_factory
) -> None:
    user = user_factory("agent", "off")
    attacker = browser()
    for i in range(10):
        attacker.sign_in(user.username, f"guess number {i}")
    assert SignInGuard.objects.get(user=user).password_locked_until is not None
    # The owner comes along with the right password.
    owner = browser()
    right = owner.sign_in(user.username, PASSWORD)
    assert right.status_code == 200 and sessions_of(user) == 0
    assert ANSWER in visible_text(right)
    # ... and it is the very answer an unknown user name and a wrong password get.
    unknown = owner.sign_in("no.such.user", PASSWORD)
    wrong = owner.sign_in(user_factory("agent", "off").username, "not the password")
    assert comparable(right, user.username) == comparable(unknown, "no.such.user")
    assert visible_text(right) == visible_text(unknown) == visible_text(wrong)
