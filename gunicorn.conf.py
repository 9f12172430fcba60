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
# On SIGTERM open streams may run for graceful_timeout minus a margin (20 %, 2..10 s); then they end with an error
# event and are recorded, and the margin is left for the worker to drain its ledger spool before the master's
# SIGKILL. 90 s lets any stream that is inside its 60 s idle timeout produce more output before it is cut. Rows that
# miss the drain stay in the spool and the next worker recovers them.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "90"))
keepalive = int(os.environ.get("KEEPALIVE", "75"))
preload_app = False
control_socket_disable = True
accesslog = None  # the app logs one structured line per request
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def on_starting(server):
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


def post_worker_init(worker):
    """Start the ledger drainer (it recovers spool segments of dead workers) and the shutdown watcher."""
    from llmgateway.infra.worker_hooks import on_worker_start

    on_worker_start(worker, graceful_timeout)


def worker_exit(server, worker):
    """Drain this worker's usage ledger spool before it exits (what is left is recovered by the next worker)."""
    from llmgateway.infra.worker_hooks import on_worker_exit

    on_worker_exit(worker, graceful_timeout)
