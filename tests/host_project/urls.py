"""The host project's URLs: its own pages elsewhere, Checkstack's API under ``ops/api/``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from checkstack.api.health import healthz

urlpatterns = [
    path("ops/api/catalog/", include("catalog.api.urls")),
    path("ops/api/incidents/", include("incidents.api.urls")),
    path("ops/api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("ops/api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("ops/healthz", healthz, name="healthz"),
]
