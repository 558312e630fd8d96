"""REST API URLs of the maintenance concern, mounted by the project at ``api/maintenances/``."""

from rest_framework.routers import SimpleRouter

from .views import MaintenanceViewSet

router = SimpleRouter()
router.register("", MaintenanceViewSet, basename="maintenance")

urlpatterns = router.urls
