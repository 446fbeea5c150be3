"""The provider's endpoints, under the names django-oauth-toolkit reverses."""

from django.urls import path
from oauth2_provider import views as dot

from deskgate.provider import views

app_name = "oauth2_provider"

urlpatterns = [
    path(
        ".well-known/openid-configuration",
        views.Discovery.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path("o/authorize/", views.Authorize.as_view(), name="authorize"),
    path("o/token/", views.Token.as_view(), name="token"),
    path("o/revoke_token/", dot.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/introspect/", dot.IntrospectTokenView.as_view(), name="introspect"),
    path("o/jwks/", dot.JwksInfoView.as_view(), name="jwks-info"),
    path("o/userinfo/", dot.UserInfoView.as_view(), name="user-info"),
    path("o/logout/", views.Logout.as_view(), name="rp-initiated-logout"),
]
