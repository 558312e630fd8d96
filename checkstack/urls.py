"""URLs of the default project: the admin (the operators' UI), the REST API, the public status
page and health."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from checkstack.api.docs import SwaggerView
from checkstack.api.health import healthz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/catalog/", include("catalog.api.urls")),
    path("api/incidents/", include("incidents.api.urls")),
    path("api/automation/", include("checkstack.automation.api.urls")),
    path("api/maintenances/", include("statuspage.maintenance.api.urls")),
    path("api/subscribers/", include("statuspage.subscribers.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("status/", include("statuspage.urls")),
    path("healthz", healthz, name="healthz"),
]

# A database outage raised outside a view (a middleware) answers 503 too, not Django's 500.
handler500 = "checkstack.database_outage.server_error"
