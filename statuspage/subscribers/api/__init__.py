"""REST API of the subscribers concern (``/api/subscribers/``, managers only)."""
