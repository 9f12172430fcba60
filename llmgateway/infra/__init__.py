"""Adapters to SQL, Redis, the filesystem spool, logging and metrics."""
