"""Public URLs of the page concern (namespace ``statuspage``, mounted at ``/status/``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("incidents/<str:incident_id>/", views.incident, name="incident"),
    path("history/", views.history, name="history"),
    path("feed.atom", views.feed_atom, name="feed-atom"),
    path("feed.rss", views.feed_rss, name="feed-rss"),
    path("summary.json", views.summary, name="summary"),
    path("badge/<str:system_id>.svg", views.badge, name="badge"),
]
