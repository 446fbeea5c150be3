from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "deskgate.sso"
    label = "sso"

    def ready(self) -> None:
        from deskgate.sso import checks  # noqa: F401  # registers the checks
