"""URLs of the host project without ``catalog`` (its API module cannot be imported then)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from checkstack.api.health import healthz

urlpatterns = [
    path("ops/api/incidents/", include("incidents.api.urls")),
    path("ops/api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("ops/healthz", healthz, name="healthz"),
]
