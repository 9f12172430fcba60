"""Operations: metrics, tracing, health, logs and secrets, container files."""
