"""Public URLs of the status page, mounted by the project at ``status/``."""

from django.urls import include, path

app_name = "statuspage"

urlpatterns = [
    path("", include("statuspage.page.urls")),
    path("", include("statuspage.subscribers.urls")),
]
