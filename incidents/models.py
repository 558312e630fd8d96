"""Models of the incidents app (built by the domain issue)."""
