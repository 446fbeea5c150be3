from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "deskgate.delivery"
    label = "delivery"
