"""Admin of the maintenance concern."""
