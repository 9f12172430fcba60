"""Admin routes: usage reports and key management."""
