"""REST API URLs of the subscribers concern."""

urlpatterns: list = []
