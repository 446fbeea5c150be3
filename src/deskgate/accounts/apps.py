from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "deskgate.accounts"
    label = "accounts"
