from rest_framework.routers import SimpleRouter

from .views import GroupViewSet, SystemViewSet

router = SimpleRouter()
router.register("systems", SystemViewSet, basename="catalog-system")
router.register("groups", GroupViewSet, basename="catalog-group")

urlpatterns = router.urls
