"""Chat completions on the gateway's own surface (/api/v1/completion, /api/v1/completion/stream)."""
