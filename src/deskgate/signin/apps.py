from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "deskgate.signin"
    label = "signin"
