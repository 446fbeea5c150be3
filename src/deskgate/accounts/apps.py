from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "deskgate.accounts"
    label = "accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from deskgate.accounts import (
            checks,  # noqa: F401  # registers the checks
            sessions,
        )

        # last_login in one fixed UPDATE instead of Django's receiver (its dispatch_uid):
        # whichever app is ready first, one receiver notes the sign-in.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        user_logged_in.connect(sessions.note_sign_in, dispatch_uid="update_last_login")
