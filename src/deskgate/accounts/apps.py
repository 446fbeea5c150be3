from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "deskgate.accounts"
    label = "accounts"

    def ready(self) -> None:
        from deskgate.accounts import checks  # noqa: F401  # registers the checks
