from django.apps import AppConfig


class ProviderConfig(AppConfig):
    name = "deskgate.provider"
    label = "provider"
    verbose_name = "OpenID Provider"

    def ready(self) -> None:
        from deskgate.accounts import demo as accounts_demo
        from deskgate.accounts import sessions
        from deskgate.provider import demo, logout

        sessions.when_ended(logout.sessions_ended)
        accounts_demo.also_load(demo.load)
