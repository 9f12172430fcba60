"""The OpenAI-compatible surface (/v1): the official SDKs work by changing base_url and the key."""
