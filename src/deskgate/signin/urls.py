from django.urls import path

from deskgate.signin import code_views, enrol_views, invitation_views, passkey_views, views

app_name = "signin"
urlpatterns = [
    path("", views.password_step, name="password"),
    path("new-password/", views.new_password_step, name="new_password"),
    path("code/", code_views.code_step, name="code"),
    path("enrol/", enrol_views.enrol_step, name="enrol"),
    path("enrol/passkey/options/", enrol_views.enrol_passkey_options, name="enrol_passkey_options"),
    path("enrolment-link/", enrol_views.enrolment_link, name="enrolment_link"),
    path("invitation/", invitation_views.invitation, name="invitation"),
    path("passkey/options/", passkey_views.options, name="passkey_options"),
    path("passkey/", passkey_views.passwordless, name="passkey"),
    path("cancel/", views.cancel, name="cancel"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path("password/", views.change_password, name="change_password"),
    path("reset/", views.reset_request, name="reset"),
    path("reset/<str:uidb64>/<str:token>/", views.reset_confirm, name="reset_confirm"),
]
