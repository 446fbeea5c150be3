from django.apps import AppConfig


class ProviderConfig(AppConfig):
    name = "deskgate.provider"
    label = "provider"
    verbose_name = "OpenID Provider"

    def ready(self) -> None:
        from deskgate.accounts import sessions
        from deskgate.provider import logout

        sessions.when_ended(logout.sessions_ended)
