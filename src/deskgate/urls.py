from django.urls import include, path, re_path

from deskgate.api import api
from deskgate.api.problems import route_not_found
from deskgate.delivery import views as delivery
from deskgate.http.favicon import favicon
from deskgate.web.views import (
    account,
    api_tokens,
    audit,
    authenticator,
    bulk,
    coverage,
    imports,
    pages,
    passkeys,
    sessions,
    sso_admin,
    step_up,
    templates,
    user_delete,
    users,
)

urlpatterns = [
    path("", pages.home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("signin/sso/", include("deskgate.sso.urls")),
    path("signin/", include("deskgate.signin.urls")),
    path("account/", pages.account, name="account"),
    path("account/forget-devices/", pages.forget_devices, name="forget_devices"),
    path("account/devices/<int:device_id>/forget/", sessions.forget_device, name="forget_device"),
    path("account/sessions/end/", sessions.end_session, name="end_session"),
    path("account/sessions/end-others/", sessions.end_other_sessions, name="end_other_sessions"),
    path("account/preferences/", pages.change_preferences, name="preferences"),
    path("account/contact/", account.change_contact, name="contact_change"),
    path("account/authenticator/", authenticator.setup, name="authenticator_setup"),
    path("account/authenticator/prove/", authenticator.prove, name="authenticator_prove"),
    path("account/authenticator/remove/", authenticator.remove, name="authenticator_remove"),
    path("account/recovery-codes/", authenticator.new_recovery_codes, name="recovery_codes"),
    path("account/contact/confirm/", account.confirm_contact, name="contact_confirm"),
    path("step-up/", step_up.begin, name="step_up"),
    path("step-up/done/", step_up.done, name="step_up_done"),
    path("account/passkeys/add/", passkeys.add, name="passkey_add"),
    path("account/passkeys/options/", passkeys.options, name="passkey_options"),
    path("account/passkeys/<int:passkey_id>/rename/", passkeys.rename, name="passkey_rename"),
    path("account/passkeys/<int:passkey_id>/remove/", passkeys.remove, name="passkey_remove"),
    path("users/", users.user_list, name="user_list"),
    path("users/create/", users.user_create, name="user_create"),
    path("users/bulk/", bulk.user_bulk, name="user_bulk"),
    path("users/import/", imports.user_import, name="user_import"),
    path("users/export.csv", imports.user_export, name="user_export"),
    path("users/coverage/", coverage.user_coverage, name="user_coverage"),
    path("users/coverage.csv", coverage.user_coverage_csv, name="user_coverage_csv"),
    path("users/<int:user_id>/", users.user_edit, name="user_edit"),
    path("users/<int:user_id>/unlock/", users.user_unlock, name="user_unlock"),
    path("users/<int:user_id>/delete/", user_delete.user_delete, name="user_delete"),
    path(
        "users/<int:user_id>/reset-authenticator/",
        users.user_reset_authenticator,
        name="user_reset_authenticator",
    ),
    path(
        "users/<int:user_id>/enrolment-link/",
        users.user_send_enrolment_link,
        name="user_send_enrolment_link",
    ),
    path(
        "users/<int:user_id>/invitation/send/",
        users.user_send_invitation,
        name="user_send_invitation",
    ),
    path(
        "users/<int:user_id>/invitation/revoke/",
        users.user_revoke_invitation,
        name="user_revoke_invitation",
    ),
    path(
        "users/<int:user_id>/reset-passkeys/",
        users.user_reset_passkeys,
        name="user_reset_passkeys",
    ),
    path(
        "users/<int:user_id>/revoke-devices/", users.user_revoke_devices, name="user_revoke_devices"
    ),
    path(
        "users/<int:user_id>/sign-out-everywhere/",
        sessions.user_sign_out_everywhere,
        name="user_sign_out_everywhere",
    ),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/create/", templates.template_create, name="template_create"),
    path("templates/<int:template_id>/", templates.template_edit, name="template_edit"),
    path("audit/", audit.audit_trail, name="audit"),
    path("audit.csv", audit.audit_csv, name="audit_csv"),
    path("settings/", pages.client_settings, name="client_settings"),
    path("settings/sso/", sso_admin.sso_settings, name="sso_settings"),
    path("settings/sso/domains/", sso_admin.sso_domains, name="sso_domains"),
    path("settings/api-tokens/", api_tokens.api_tokens, name="api_tokens"),
    path(
        "settings/api-tokens/<int:token_id>/revoke/",
        api_tokens.api_token_revoke,
        name="api_token_revoke",
    ),
    path("outbox/", delivery.outbox, name="outbox"),
    path("scim/v2/", include("deskgate.scim.urls")),
    path("api/v1/", api.urls()),
    re_path(r"^api/v1/", route_not_found, name="api_not_found"),
    path("", include("deskgate.provider.urls")),
]

handler404 = "deskgate.http.errors.page_not_found"
handler403 = "deskgate.http.errors.permission_denied"
# An unreachable database or cache answers 503 "briefly unavailable", anything else 500.
handler500 = "deskgate.http.errors.server_error"
