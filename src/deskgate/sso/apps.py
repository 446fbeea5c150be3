from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "deskgate.sso"
    label = "sso"
