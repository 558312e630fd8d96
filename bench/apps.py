from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmark commands; no models, no migrations, nothing registered."""

    name = "bench"
    label = "bench"
    verbose_name = "Benchmarks"
