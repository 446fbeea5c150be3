from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "deskgate.delivery"
    label = "delivery"

    def ready(self) -> None:
        from deskgate.delivery import checks  # noqa: F401  # registers the checks
