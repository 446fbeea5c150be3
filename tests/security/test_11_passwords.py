"""11. Passwords (NIST SP 800-63B-4 3.1.1, OWASP ASVS V6): at least 8 characters when
MFA is on and 15 when the password is the only factor; 64 and more allowed and never
truncated; common passwords and context words (user name, client name) refused; no
composition rules; stored as argon2id. Through the change-password page and the admin's
user form, as users and admins meet the rules.
"""

from __future__ import annotations

import pytest

from deskgate.accounts.models import User
from tests.conftest import PASSWORD
from tests.security.conftest import full_sign_in, visible_text

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTION_HASH = {"memory_cost": 19456, "time_cost": 2, "parallelism": 1}


def change(b, current: str, new: str):
    return b.post(
        "/signin/password/",
        {"current_password": current, "new_password": new, "confirm_password": new},
    )


def accepted(response) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/account/"


def test_length_depends_on_the_factors(browser, user_factory) -> None:
    with_mfa = user_factory("agent", "email")
    alone = user_factory("agent", "off")
    m = full_sign_in(browser(), with_mfa)
    refused = change(m, PASSWORD, "zq7vlp2")  # 7
    assert "Use at least 8 characters with MFA on (this one has 7)." in visible_text(refused)
    assert accepted(change(m, PASSWORD, "zq7vlp2w"))  # 8
    s = full_sign_in(browser(), alone)
    refused = change(s, PASSWORD, "zq7vlp2wkrt9sx")  # 14
    assert "Use at least 15 characters without MFA (this one has 14)." in visible_text(refused)
    assert accepted(change(s, PASSWORD, "zq7vlp2wkrt9sxm"))  # 15
    # Characters, not bytes: 15 emoji and accented letters count as 15.
    s2 = full_sign_in(browser(), user_factory("agent", "off"))
    assert accepted(change(s2, PASSWORD, "\u00e9\u00e8\u00ea\u00eb\U0001f510" * 3))


@pytest.mark.parametrize("length", [64, 200, 1024])
def test_long_passwords_are_allowed_and_never_truncated(browser, user_factory, length) -> None:
    user = user_factory("agent", "off")
    long_password = ("plum orchard lantern " * 60)[: length - 1] + "x"
    b = full_sign_in(browser(), user)
    assert accepted(change(b, PASSWORD, long_password))
    b.sign_out()
    # Every near miss is refused: the last character changed, one dropped, bcrypt's 72 bytes.
    nears = {
        long_password[:-1] + "y",
        long_password[:-1],
        long_password[:72],
        long_password[:64],
        long_password + "x",
    } - {long_password}
    for near in sorted(nears):
        attempt = browser()
        assert attempt.sign_in(user.username, near).status_code == 200, len(near)
        assert attempt.whoami() is None
    full_sign_in(browser(), user, long_password)


def test_longer_than_the_maximum_is_refused_not_truncated(browser, user_factory) -> None:
    user = user_factory("agent", "off")
    b = full_sign_in(browser(), user)
    refused = change(b, PASSWORD, "q" * 1025)
    assert "Use at most 1024 characters." in visible_text(refused)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("common", ["password", "12345678", "iloveyou", "sunshine", "football"])
def test_common_passwords_are_refused(browser, user_factory, common) -> None:
    b = full_sign_in(browser(), user_factory("agent", "email"))
    refused = change(b, PASSWORD, common)
    assert "This password is too common." in visible_text(refused)


def test_context_words_are_refused(browser, user_factory, tenant) -> None:
    user = user_factory(
        "agent",
        "off",
        username="kalle.tahvo",
        full_name="Kalle Tahvonen",
        email="ktahvo@example.com",
    )
    b = full_sign_in(browser(), user)
    for word in (
        "kalle.tahvo",
        "KALLE",
        "Tahvonen",
        "ktahvo",
        tenant.name,
        "northwind",
        "deskgate",
    ):
        refused = change(b, PASSWORD, f"my {word} passphrase goes here")
        assert "must not contain your user name" in visible_text(refused), word
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_no_composition_rules(browser, user_factory) -> None:
    for new in ("purple elephant dancing", "8675309112358132134", "ZZZZQQQQXXXXWWWWVVVV"):
        b = full_sign_in(browser(), user_factory("agent", "off"))
        assert accepted(change(b, PASSWORD, new)), new


def test_admin_set_passwords_follow_the_same_rules(browser, user_factory, admin_user) -> None:
    a = full_sign_in(browser(), admin_user)
    base = {
        "full_name": "Mari Mallikas",
        "level": "agent",
        "employment": "active",
        "email": "",
        "work_phone": "",
        "mfa_method": "off",
    }
    too_short = a.post(
        "/users/create/", base | {"username": "mari.m", "password": "short but 14ch"}
    )
    assert "Use at least 15 characters without MFA" in visible_text(too_short)
    context = a.post(
        "/users/create/", base | {"username": "mari.m", "password": "mallikas forever and ever"}
    )
    assert "must not contain your user name" in visible_text(context)
    assert not User.objects.filter(username="mari.m").exists()


def test_passwords_are_stored_as_argon2id_at_the_production_cost(
    browser, user_factory, settings
) -> None:
    user = user_factory("agent", "off")
    settings.DESKGATE_PASSWORD_HASH = PRODUCTION_HASH
    b = full_sign_in(browser(), user)  # the sign-in rehashes at the new cost
    new = "stored safely at production cost"
    assert accepted(change(b, PASSWORD, new))
    stored = User.objects.get(pk=user.pk).password
    algorithm, variant, version, params, salt, digest = stored.split("$")
    assert (algorithm, variant) == ("argon2", "argon2id")
    assert params == "m=19456,t=2,p=1"
    assert new not in stored and len(digest) >= 22 and len(salt) >= 16
    # The product's own default, with no environment at all, is that cost.
    from deskgate import conf

    defaults = conf.load({"SECRET_KEY": "s" * 50})
    assert (
        defaults.password_hash_memory_kib,
        defaults.password_hash_time_cost,
        defaults.password_hash_parallelism,
    ) == (19456, 2, 1)
