from rest_framework.routers import SimpleRouter

from .views import (
    ActionViewSet,
    ArtifactTypeViewSet,
    AutomationViewSet,
    RunViewSet,
    TriggerViewSet,
    WebhookDeliveryViewSet,
    WebhookEndpointViewSet,
)

router = SimpleRouter()
router.register("triggers", TriggerViewSet, basename="automation-trigger")
router.register("actions", ActionViewSet, basename="automation-action")
router.register("artifact-types", ArtifactTypeViewSet, basename="automation-artifact-type")
router.register("automations", AutomationViewSet, basename="automation-automation")
router.register("runs", RunViewSet, basename="automation-run")
router.register("webhooks", WebhookEndpointViewSet, basename="automation-webhook")
router.register("deliveries", WebhookDeliveryViewSet, basename="automation-delivery")

urlpatterns = router.urls
