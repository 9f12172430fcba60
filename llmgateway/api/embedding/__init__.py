"""Embeddings on the gateway's own surface (/api/v1/embedding)."""
