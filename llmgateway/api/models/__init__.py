"""The model catalogue routes."""
