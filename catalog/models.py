"""Models of the catalog app (built by the domain issue)."""
