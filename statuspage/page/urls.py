"""Public URLs of the page concern."""

urlpatterns: list = []
