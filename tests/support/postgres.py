"""A throw-away PostgreSQL cluster on a free loopback port, removed afterwards.

Uses Debian's server binaries (``make test`` installs the ``postgresql`` package when they
are missing). ``initdb`` refuses to run as root, so as root the cluster belongs to the
``postgres`` system user. The cluster trusts loopback connections: it lives for one test
session, listens on 127.0.0.1 only and has no Unix socket.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

SUPERUSER = "wachter"


def find_server_binaries() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major, reverse=True)
    if candidates:
        return candidates[0].parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _major(path: Path) -> int:
    try:
        return int(path.parent.parent.name)
    except ValueError:
        return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    """Running (a zombie nobody has reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class TemporaryCluster:
    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        """``durable``: commits are flushed as in production (``synchronous_commit=on``), so
        a killed server loses nothing acknowledged; the suite's clusters trade that for speed."""
        self.bindir = bindir
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="wachter-pg-"))
        self.data = self.root / "data"
        self._as_postgres = os.geteuid() == 0

    @property
    def admin_url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self.resume()

    def halt(self) -> None:
        """Stop the server as an operator's restart does (open connections are cut, what was
        committed is kept), keeping its data and port for ``resume``."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def crash(self) -> None:
        """``kill -9`` of the postmaster, as the OOM killer does: its backends end with it,
        and ``resume`` runs crash recovery from the WAL."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # A container's first process may never reap it: PostgreSQL would take the zombie
        # for a running postmaster. Its lock file is stale now; systemd would clear it too.
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def resume(self) -> None:
        """Start the server on its data and port (after ``start`` made them, ``halt`` or
        ``crash``)."""
        commit = "synchronous_commit=on" if self.durable else "fsync=off -c synchronous_commit=off"
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories='' -c {commit} "
            "-c full_page_writes=off -c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=self.root)
        if result.returncode != 0:
            log = self.root / "server.log"
            detail = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stderr.strip()}\n{detail}")
