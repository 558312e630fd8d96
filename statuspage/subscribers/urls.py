"""Public URLs of the subscribers concern."""

urlpatterns: list = []
