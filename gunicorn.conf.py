"""gunicorn settings: gevent workers, timeouts sized for streams, and the ledger's worker hooks."""

from gevent import monkey

monkey.patch_all()  # first: before anything imports ssl, socket or psycopg (KNOWHOW §1)

import os  # noqa: E402

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "2000"))
# `timeout` only detects a blocked gevent hub; it does not limit how long a stream may last.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Longer than the longest stream we expect to finish on shutdown (stream idle timeout is 60 s) plus a ledger flush.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "90"))
keepalive = int(os.environ.get("KEEPALIVE", "75"))
preload_app = False
control_socket_disable = True
accesslog = None  # the app logs one structured line per request
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def on_starting(server):  # noqa: ANN001, ANN201
    """In the master, once: create or upgrade the schema and bootstrap keys, so workers don't race."""
    from llmgateway.app import SCHEMA_READY_ENV, build_services, prepare_database
    from llmgateway.config import load_settings

    settings = load_settings()
    if settings.database.auto_upgrade:
        services = build_services(settings)
        try:
            prepare_database(services)
        finally:
            services.close()
    os.environ[SCHEMA_READY_ENV] = "1"


def worker_exit(server, worker):  # noqa: ANN001, ANN201
    """Drain this worker's usage ledger before it exits."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("llmgateway") if app is not None else None
    if services is not None:
        services.close()
