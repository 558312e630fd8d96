"""REST API URLs of the maintenance concern."""

urlpatterns: list = []
