"""gunicorn settings: gevent workers, timeouts sized for streams, and the ledger's worker hooks."""

import gc
import os

# Memory shared between the master and its forked workers stays shared (the recipe in the `gc` docs): no
# collections in the master, which would leave holes in its pages; gc.freeze() before each fork, so the
# workers' collections never touch (and so copy) the objects they inherit; collections on again in workers.
gc.disable()

# Literal upstream addresses resolved on the hub, names cached for 10 s (llmgateway/infra/resolver.py); an
# operator's own GEVENT_RESOLVER wins. Set before gevent reads its configuration.
os.environ.setdefault("GEVENT_RESOLVER", "llmgateway.infra.resolver.CachingResolver")

from gevent import monkey  # noqa: E402

# Before anything imports ssl, socket or psycopg: psycopg picks its wait function (cooperative or blocking)
# once, at import, and ssl cannot be patched after urllib3 imported it.
monkey.patch_all()

import shutil  # noqa: E402
import tempfile  # noqa: E402

# Workers share Prometheus values through files in one directory. The variable must be set before anything in
# this process imports prometheus_client (the logging config below already imports the package), and workers
# inherit it. Without one from the operator, the master makes a private directory and removes it on exit.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_created_metrics_dir: list[str] = []
if not os.environ.get(METRICS_DIR_ENV):
    _created_metrics_dir.append(tempfile.mkdtemp(prefix="llmgateway-metrics-"))
    os.environ[METRICS_DIR_ENV] = _created_metrics_dir[0]

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
# gunicorn's own lines as JSON too (the app replaces the root handler with its configured one in each worker).
logconfig_dict = {
    "root": {"level": "INFO", "handlers": ["json"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},  # the app logs requests
    },
    "handlers": {"json": {"()": "llmgateway.infra.logging.log_handler"}},
    "formatters": {},
}


def clean_metrics_dir():
    """Values left by a previous run would be added to this one's: start from an empty directory."""
    path = os.environ[METRICS_DIR_ENV]
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def on_starting(server):
    """In the master, once: a clean metrics directory, then the schema and the first keys, so workers don't race."""
    clean_metrics_dir()
    from llmgateway.app import SCHEMA_READY_ENV, build_services, prepare_database
    from llmgateway.config import load_settings, with_generated_secrets

    settings = with_generated_secrets(load_settings())
    if settings.database.auto_upgrade:
        services = build_services(settings)
        try:
            prepare_database(services)
        finally:
            services.close()
    os.environ[SCHEMA_READY_ENV] = "1"


def pre_fork(server, worker):
    gc.freeze()


def post_fork(server, worker):
    gc.enable()


def post_worker_init(worker):
    """Start the ledger drainer (it recovers spool segments of dead workers) and the shutdown watcher."""
    from llmgateway.worker_hooks import on_worker_start

    on_worker_start(worker, graceful_timeout)


def worker_exit(server, worker):
    """Drain this worker's usage ledger spool before it exits (what is left is recovered by the next worker)."""
    from llmgateway.worker_hooks import on_worker_exit

    on_worker_exit(worker, graceful_timeout)


def child_exit(server, worker):
    """A worker is gone: drop its live gauges (in-flight counts) from the aggregate; its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory this master created."""
    for path in _created_metrics_dir:
        shutil.rmtree(path, ignore_errors=True)
