"""The rules every write of a user or a template obeys (R1, R3, R4, R5).

The actions (`deskgate.accounts.actions`) call them inside the transaction that writes;
pages call the same functions to explain a refusal before anyone submits. By subject:

- `rules.users`: a user's fields (`UserFields`, `USER_FIELDS`, `UserState`), `check_user`
  (R1, R3, R4, SSO's one Email per active user), the last admin, one's own sign-in settings,
  the `Directory` R4 reads, and the user list's search.
- `rules.names`: text an admin types that others read (`clean_name`, `check_text`...).
- `rules.templates`: `check_template`, the tags, and R5's warnings.

Import the package (`from deskgate.accounts import rules`); every public name is here.
"""

from deskgate.accounts.rules.names import (
    FULL_NAME_MAX,
    check_text,
    clean_email,
    clean_full_name,
    clean_name,
    invisible_characters,
    invisible_characters_message,
)
from deskgate.accounts.rules.templates import (
    EMAIL_TAG,
    TEMPLATE_TAGS,
    WORKPHONE_TAG,
    TemplateFields,
    check_template,
    check_template_text,
    render_template_text,
    template_tags,
    template_warnings,
    templates_sending_from,
    user_template_warnings,
)
from deskgate.accounts.rules.users import (
    HOLDERS_SHOWN,
    NOT_ON_ONESELF_HERE,
    OWN_SIGN_IN_SETTINGS,
    USER_FIELDS,
    Directory,
    Errors,
    Holder,
    UserFields,
    UserState,
    check_keeps_an_admin,
    check_own_sign_in_settings,
    check_user,
    no_admin_left,
    sso_configured,
    sso_mandatory,
    sso_requires_idp_mfa,
    users_matching,
)

__all__ = [
    "EMAIL_TAG",
    "FULL_NAME_MAX",
    "HOLDERS_SHOWN",
    "NOT_ON_ONESELF_HERE",
    "OWN_SIGN_IN_SETTINGS",
    "TEMPLATE_TAGS",
    "USER_FIELDS",
    "WORKPHONE_TAG",
    "Directory",
    "Errors",
    "Holder",
    "TemplateFields",
    "UserFields",
    "UserState",
    "check_keeps_an_admin",
    "check_own_sign_in_settings",
    "check_template",
    "check_template_text",
    "check_text",
    "check_user",
    "no_admin_left",
    "clean_email",
    "clean_full_name",
    "clean_name",
    "invisible_characters",
    "invisible_characters_message",
    "render_template_text",
    "sso_configured",
    "sso_mandatory",
    "sso_requires_idp_mfa",
    "template_tags",
    "template_warnings",
    "templates_sending_from",
    "user_template_warnings",
    "users_matching",
]
