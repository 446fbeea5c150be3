"""12. Fuzzing: every parser of user input, fed what hypothesis generates, either answers
or refuses with the clean error (ValidationError for what people type, ConfigError for
the environment); the pages that take input never answer 500.

Phone numbers, emails, user names, template tags, codes, searches, environment URLs and
the whole configuration. The form posts use Django's test client (no live server), which
re-raises any exception a view lets escape, so a 500 fails the test with its traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import string
from uuid import uuid4

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.test import Client as HttpClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from deskgate import conf
from deskgate.accounts import contact, rules
from deskgate.accounts.models import Client, User
from deskgate.signin import codes
from tests.conftest import PASSWORD, sign_in

# CI runs the same examples every time (derandomized, no example database, no files
# written): a red build is never luck. DESKGATE_FUZZ=<factor> multiplies the examples and
# draws new ones on each run, for a longer hunt by hand.
FUZZ = int(os.environ.get("DESKGATE_FUZZ", "0") or 0)
SCALE = max(FUZZ, 1)
QUICK = settings(max_examples=150 * SCALE, deadline=None, database=None, derandomize=not FUZZ)
PAGES = settings(
    max_examples=40 * SCALE,
    deadline=None,
    database=None,
    derandomize=not FUZZ,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
COUNTRIES = ["FI", "SE", "EE", "US", "GB", "IN", "BR", "ZZ", "", "fi"]

# Text that looks like what people paste: digits, separators, letters, Unicode digits,
# whitespace of all kinds, and anything else.
phoneish = st.text(
    alphabet=st.sampled_from(
        list("0123456789+-() .#*xX/") + ["\u00a0", "\u2007", "\uff10", "\u0661", "\u200b"]
    ),
    max_size=40,
) | st.text(max_size=40)
emailish = st.builds(
    lambda a, b, c: f"{a}@{b}.{c}",
    st.text(max_size=20),
    st.text(max_size=20),
    st.text(max_size=8),
) | st.text(max_size=300)
urlish = st.builds(
    lambda scheme, rest: f"{scheme}{rest}",
    st.sampled_from(
        [
            "",
            "sqlite://",
            "sqlite:///",
            "postgres://",
            "postgresql://",
            "redis://",
            "rediss://",
            "smtp://",
            "smtp+tls://",
            "smtps://",
            "kannel://",
            "kannel+https://",
            "http://",
            "https://",
            "://",
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.text(alphabet=string.ascii_letters + string.digits + ":@/?#[]%.-_=&", max_size=60),
)


# --- contact fields ---------------------------------------------------------------------


@QUICK
@given(st.text(max_size=100))
def test_user_names_parse_or_refuse(raw: str) -> None:
    try:
        value = contact.clean_username(raw)
    except ValidationError:
        return
    assert re.fullmatch(r"[A-Za-z0-9_@.\-]{1,64}", value)


@QUICK
@given(emailish)
def test_emails_parse_or_refuse(raw: str) -> None:
    contact.email_key(raw)
    contact.mask_email(raw)
    try:
        value = contact.clean_email(raw)
    except ValidationError:
        return
    assert value == "" or "@" in value
    assert contact.clean_email(value) == value  # cleaning is idempotent
    assert contact.email_key(value) == contact.email_key(contact.email_key(value))
    masked = contact.mask_email(value)
    assert value == "" or masked.endswith(value.rpartition("@")[2])


@QUICK
@given(phoneish, st.sampled_from(COUNTRIES))
@example("+358 40 123 4567", "FI")
@example("\uff10\uff14\uff10 123 4567", "FI")
@example("040 123 4567", "ZZ")
def test_phone_numbers_parse_or_refuse(raw: str, country: str) -> None:
    for fn in (contact.mask_phone, contact.region_of, contact.is_mobile, contact.format_phone):
        fn(raw)
    try:
        value = contact.clean_work_phone(raw, country)
    except ValidationError:
        return
    if value:
        assert re.fullmatch(r"\+[1-9]\d{6,15}", value), value
        number = phonenumbers.parse(value, None)
        national = str(number.national_number)
        masked = contact.mask_phone(value).replace(" ", "")
        shown = masked.removeprefix(f"+{number.country_code}")
        # Only the last two digits of the number show, whatever its length.
        assert shown.endswith(national[-2:]) and sum(c.isdigit() for c in shown) <= 2, masked


# --- template tags and the user search ----------------------------------------------------


@QUICK
@given(st.text(max_size=300))
@example("{agent.workphone}{agent.email}{{agent.name}}{}{ }{agent.")
def test_template_tags_parse_and_render(text: str) -> None:
    agent = User(
        username="agent7",
        full_name="Agent Seven",
        email="a7@example.com",
        work_phone="+358401234567",
    )
    rules.template_tags(text)
    rules.check_template_text(text, "The message")
    rendered = rules.render_template_text(text, agent)
    if not rules.template_tags(text):
        assert rendered == text


@pytest.mark.django_db
@settings(parent=PAGES, max_examples=80 * SCALE)
@given(
    query=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=100)
)
@example(query="%_\\'\"; DROP TABLE accounts_user; --")
@example(query="040 123 4567")
def test_user_search_conditions_run_on_the_database(tenant, query: str) -> None:
    # The User list view removes NUL itself (PostgreSQL refuses it in a parameter).
    User.objects.filter(client=tenant).filter(rules.users_matching(tenant, query)).count()


# --- codes --------------------------------------------------------------------------------


@QUICK
@given(st.text(max_size=20), st.integers(0, 999_999), st.text(min_size=1, max_size=50))
@example("\uff11\uff12\uff13\uff14\uff15\uff16", 123456, "token")
@example("123456\n", 123456, "token")
@example(" 123456", 123456, "token")
def test_only_the_exact_ascii_code_matches(submitted: str, number: int, token: str) -> None:
    code = f"{number:06d}"
    stored = codes.code_hash(token, code)
    assert codes.matches(token, submitted, stored) is (submitted == code)
    assert codes.matches(token, code, stored)
    assert not codes.matches(token + "x", code, stored)
    assert not codes.matches(token, submitted, "")


# --- the environment ----------------------------------------------------------------------


@QUICK
@given(urlish)
@example("postgres://[::1/x")
@example("redis://h:99999")
@example("kannel://u:p@h:-1")
def test_environment_urls_parse_or_refuse(raw: str) -> None:
    for parse in (
        conf.parse_database_url,
        conf.parse_cache_url,
        conf.parse_email_url,
        conf.parse_sms_url,
    ):
        with contextlib.suppress(conf.ConfigError):
            parse(raw)


ENV_NAMES = [
    "PORT",
    "DATABASE_URL",
    "CACHE_URL",
    "EMAIL_URL",
    "SMS_URL",
    "DESKGATE_DEMO",
    "DESKGATE_DEBUG",
    "DESKGATE_HOSTS",
    "DESKGATE_SECURE_COOKIES",
    "DESKGATE_HASH_MEMORY_KIB",
    "DESKGATE_HASH_TIME_COST",
    "DESKGATE_HASH_PARALLELISM",
    "DESKGATE_CODE_CAP_USER",
    "DESKGATE_CODE_CAP_CLIENT",
    "DESKGATE_CODE_CAP_PLATFORM",
]
env_values = urlish | st.text(max_size=30) | st.integers(-10, 10**10).map(str)


@QUICK
@given(st.dictionaries(st.sampled_from(ENV_NAMES), env_values))
def test_configuration_loads_or_names_the_variable(env: dict[str, str]) -> None:
    env = {"SECRET_KEY": "k" * 50, "DESKGATE_BASE_URL": "https://deskgate.example"} | env
    try:
        conf.load(env)
    except conf.ConfigError as exc:
        assert exc.variable in env


@QUICK
@given(urlish)
@example("http://[")
def test_base_url_loads_or_names_the_variable(raw: str) -> None:
    """Regression (found by this campaign, fixed in 7df66b6). Was: conf.load() lets
    ValueError escape for a malformed DESKGATE_BASE_URL such as 'http://[' or
    'https://[x]': urlsplit() raises before the check, so start-up fails with a traceback
    instead of a ConfigError naming the variable"""
    try:
        conf.load({"SECRET_KEY": "k" * 50, "DESKGATE_BASE_URL": raw})
    except conf.ConfigError as exc:
        assert exc.variable == "DESKGATE_BASE_URL"


@QUICK
@given(
    st.sampled_from(["postgres", "redis", "smtp", "kannel"]),
    st.text(alphabet=string.ascii_letters + string.digits, min_size=4, max_size=20),
    st.sampled_from("/?#"),
    st.text(alphabet=string.ascii_letters + string.digits, max_size=10),
)
@example("smtp", "hunter", "/", "2pass")
def test_url_errors_never_show_the_password(scheme, head, special, tail) -> None:
    """Regression (found by this campaign, fixed in 7df66b6). Was: a password holding '/',
    '?' or '#' (not percent-encoded) in DATABASE_URL, CACHE_URL, EMAIL_URL or SMS_URL
    shows up in the start-up error: _split() masks the URL with _without_password() but
    appends urlsplit's ValueError text, 'Port could not be cast to integer value as <start
    of the password>'"""
    head = f"Zq9{head}"  # a password start no message could contain by chance
    raw = f"{scheme}://deskgate:{head}{special}{tail}@db.example:5432/deskgate"
    for parse in (
        conf.parse_database_url,
        conf.parse_cache_url,
        conf.parse_email_url,
        conf.parse_sms_url,
    ):
        try:
            parse(raw)
        except conf.ConfigError as exc:
            assert head not in str(exc), str(exc)


# --- pages that take input ----------------------------------------------------------------

any_text = st.text(max_size=80) | st.sampled_from(["", " ", "\x00", "0" * 500, "\u202e"])


@pytest.mark.django_db
@PAGES
@given(username=any_text, password=any_text, extra=any_text)
@example(username="agent.fuzz", password=PASSWORD + " ", extra="")
def test_sign_in_page_never_fails(user_factory, username, password, extra) -> None:
    if not User.objects.filter(username="agent.fuzz").exists():
        user_factory("agent", "email", username="agent.fuzz")
    response = HttpClient().post(
        "/signin/", {"username": username, "password": password, "next": extra, "user": extra}
    )
    assert response.status_code in (200, 302)


@pytest.fixture
def at_code_step(user_factory):
    user = user_factory("agent", "email", username="code.fuzz")
    http = HttpClient()
    assert sign_in(http, user)["Location"] == "/signin/code/"
    return http


@pytest.mark.django_db
@PAGES
@given(
    code=any_text,
    action=st.sampled_from(["verify", "resend", "", "x"]) | any_text,
    remember=any_text,
)
def test_code_page_never_fails(at_code_step, code, action, remember) -> None:
    response = at_code_step.post(
        "/signin/code/", {"action": action, "code": code, "remember": remember}
    )
    assert response.status_code in (200, 302)


@pytest.mark.django_db
@PAGES
@given(
    fields=st.fixed_dictionaries(
        {
            "username": any_text,
            "full_name": any_text,
            "email": emailish | any_text,
            "work_phone": phoneish,
            "password": any_text,
            "level": st.sampled_from(["agent", "manager", "admin", "team_leader"]) | any_text,
            "employment": st.sampled_from(["active", "inactive"]) | any_text,
            "mfa_method": st.sampled_from(["off", "email", "sms"]) | any_text,
        }
    )
)
@example(
    fields={
        "username": "ok.user",
        "full_name": "Ok User",
        "email": "ok@example.com",
        "work_phone": "040 123 4567",
        "password": "",
        "level": "agent",
        "employment": "active",
        "mfa_method": "sms",
    }
)
def test_user_create_page_never_fails(admin_http, fields) -> None:
    response = admin_http.post("/users/create/", fields)
    assert response.status_code in (200, 302)


@pytest.mark.django_db
@PAGES
@given(q=any_text, user=any_text, agent=any_text, page=any_text, ids=st.lists(any_text))
def test_searches_filters_and_ids_never_fail(admin_http, tenant, q, user, agent, page, ids):
    from deskgate.accounts.models import MessageTemplate

    template, _ = MessageTemplate.objects.get_or_create(
        client=tenant, name="Fuzz", defaults={"channel": "sms", "sender": "X", "body": "b"}
    )
    for path, params in (
        ("/users/", {"q": q, "level": user, "status": agent, "page": page}),
        ("/audit/", {"user": user, "page": page}),
        (f"/templates/{template.pk}/", {"agent": agent}),
    ):
        assert admin_http.get(path, params).status_code in (200, 404)
    response = admin_http.post(
        "/users/bulk/", {"method": "off", "scope": "selected", "users": ids, "key": str(uuid4())}
    )
    assert response.status_code in (200, 302)
    response = admin_http.post("/settings/", {"sms_countries": q, "remember_device_enabled": "on"})
    assert response.status_code in (200, 302)
    Client.objects.filter(pk=tenant.pk).update(sms_countries="")
