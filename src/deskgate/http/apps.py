from django.apps import AppConfig


class HttpConfig(AppConfig):
    """The web kit below the apps: form base, guards, middleware, base.html, field partials."""

    name = "deskgate.http"
    label = "http"
