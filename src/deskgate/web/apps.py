from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "deskgate.web"
    label = "web"
