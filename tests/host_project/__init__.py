"""A minimal host project that installs the Checkstack apps the way docs/install.md says.

Used by ``tests/host_project/test_host_project.py`` in subprocesses (pytest-django configures
one settings module per process).
"""
