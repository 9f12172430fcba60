"""Token exchange: an API key for a short-lived JWT."""
