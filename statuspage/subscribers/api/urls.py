"""REST API URLs of the subscribers concern, mounted by the project at ``api/subscribers/``."""

from rest_framework.routers import SimpleRouter

from .views import SubscriberViewSet

router = SimpleRouter()
router.register("", SubscriberViewSet, basename="subscriber")

urlpatterns = router.urls
