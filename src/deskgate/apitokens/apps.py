from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    name = "deskgate.apitokens"
    label = "apitokens"
    verbose_name = "API tokens"
