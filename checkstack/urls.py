"""URLs of the default project: the admin (the operators' UI) and, later, the API."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
