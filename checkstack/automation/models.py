"""Models of automations, runs and webhooks (built by the automation engine issue)."""
