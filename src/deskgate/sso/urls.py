from django.urls import path

from deskgate.sso import views

app_name = "sso"
urlpatterns = [
    path("", views.choose_company, name="choose"),
    path("callback/", views.callback, name="callback"),
    path("<slug:slug>/", views.company_start, name="company"),
]
