"""Database engine and sessions: pool sizing, SQLite pragmas, and running blocking SQLite off the gevent hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool, StaticPool

from llmgateway.config import DatabaseConfig

T = TypeVar("T")


def make_engine(config: DatabaseConfig) -> Engine:
    """An engine sized for database concurrency, not for greenlets."""
    url = config.url
    if url.startswith("sqlite"):
        # No pool for SQLite: its writes run in gevent's threadpool, and a pool's (gevent-patched) lock shared
        # between those threads and the hub deadlocked a lookup under load. A SQLite connection costs ~0.1 ms.
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 5}, poolclass=StaticPool if memory else NullPool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect():  # first connect (dialect initialisation, which takes a lock) here, on the hub
            pass
        return engine
    return create_engine(
        url,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_timeout=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def off_hub(fn: Callable[[], T]) -> T:
    """Run blocking C code (SQLite) in gevent's threadpool when patched, so the hub keeps serving."""
    try:
        from gevent import get_hub
        from gevent.monkey import is_module_patched
    except ImportError:  # pragma: no cover - gevent is a dependency
        return fn()
    if not is_module_patched("socket"):
        return fn()
    return get_hub().threadpool.spawn(fn).get()


def db_call(engine: Engine, fn: Callable[[], T]) -> T:
    """Run a database call: SQLite in gevent's threadpool (its C code blocks the hub); psycopg 3 inline,
    since it waits cooperatively under gevent and a thread hand-off would only add cost."""
    return off_hub(fn) if engine.dialect.name == "sqlite" else fn()
