"""The host project with ``incidents`` but without ``catalog``: system ids are not checked."""

from tests.host_project.settings import *  # noqa: F403
from tests.host_project.settings import CHECKSTACK_DEPENDENCIES, HOST_APPS

INSTALLED_APPS = [
    *HOST_APPS,
    *CHECKSTACK_DEPENDENCIES,
    "checkstack.entities",
    "checkstack.automation",
    "incidents",
]
ROOT_URLCONF = "tests.host_project.urls_without_catalog"
