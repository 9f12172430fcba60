"""A PostgreSQL cluster of the test's own (initdb in a temp dir, run as the postgres user) that tests stop and start."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import service_missing
from tests.gunicorn_runner import free_port

PG_BIN = Path(os.environ.get("LLMGATEWAY_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class OwnPostgres:
    """One cluster on a free loopback port; `stop()` / `start()` simulate an outage."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = " ".join(args)
        as_postgres = ["su", "postgres", "-s", "/bin/sh", "-c"] if os.geteuid() == 0 else ["/bin/sh", "-c"]
        argv = [*as_postgres, command]
        subprocess.run(argv, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.directory / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.directory / "data"),
            "-l",
            str(self.directory / "log"),
            "-w",
            "-t",
            "30",
            "-o",
            f"'{options}'",
            "start",
        )

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast", "-w", "stop")


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    if not (PG_BIN / "initdb").exists():
        service_missing("PostgreSQL binaries", FileNotFoundError(str(PG_BIN)))
    directory = Path(tempfile.mkdtemp(prefix="llmgw-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    cluster = OwnPostgres(directory, free_port())
    try:
        cluster.init()
        cluster.start()
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        service_missing("own PostgreSQL cluster", exc)
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(directory, ignore_errors=True)
