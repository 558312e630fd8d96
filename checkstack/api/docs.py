"""The API's documentation page."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerView


class SwaggerView(SpectacularSwaggerView):
    """drf-spectacular's Swagger UI page, for GET and HEAD only: its HTML renderer has no
    template for DRF's OPTIONS metadata, so OPTIONS answered 500 instead of a 405."""

    http_method_names = ["get", "head"]
