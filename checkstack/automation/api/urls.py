from rest_framework.routers import SimpleRouter

from .views import ActionViewSet, ArtifactTypeViewSet, AutomationViewSet, TriggerViewSet

router = SimpleRouter()
router.register("triggers", TriggerViewSet, basename="automation-trigger")
router.register("actions", ActionViewSet, basename="automation-action")
router.register("artifact-types", ArtifactTypeViewSet, basename="automation-artifact-type")
router.register("automations", AutomationViewSet, basename="automation-automation")

urlpatterns = router.urls
