from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "deskgate.signin"
    label = "signin"

    def ready(self) -> None:
        from deskgate.signin import checks  # noqa: F401  # registers the checks
