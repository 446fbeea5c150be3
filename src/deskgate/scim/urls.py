from django.urls import path, re_path

from deskgate.scim import views

app_name = "scim"

urlpatterns = [
    path("ServiceProviderConfig", views.service_provider_config, name="spc"),
    path("ResourceTypes", views.resource_types, name="resource_types"),
    path("ResourceTypes/<str:name>", views.resource_types, name="resource_type"),
    path("Schemas", views.schemas, name="schemas"),
    re_path(r"^Schemas/(?P<urn>[^/]+)$", views.schemas, name="schema"),
    path("Users", views.users, name="users"),
    path("Users/<str:user_id>", views.user, name="user"),
]
