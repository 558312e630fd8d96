"""Admin of the subscribers concern."""
