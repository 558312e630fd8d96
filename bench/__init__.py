"""Benchmarks of Checkstack: the ``bench_*`` management commands and what they share.

Not part of the distribution (``pyproject.toml`` packages only ``checkstack``, ``catalog`` and
``incidents``) and installed only by ``bench.settings`` and the test settings, so no host
project gets these commands.
"""
