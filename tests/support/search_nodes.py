"""Real single-node Elasticsearch and OpenSearch servers for the tests, on loopback.

The servers are the projects' own test distributions from Maven Central
(``org.elasticsearch.distribution.integ-test-zip`` and ``org.opensearch.distribution.
integ-test-zip``): no bundled JDK, so a JDK 21 or newer from ``/usr/lib/jvm`` runs them.
``python -m tests.support.search_nodes fetch`` (called by ``make test`` through
``scripts/ensure-search-nodes``) downloads the archives once, checked against the SHA-256
pinned here (the mirror serves the archives but not always their checksum files), into a
cache kept between runs (``$WACHTER_TEST_CACHE``, default ``~/.cache/wachter-test``).

``SearchNode`` unpacks an archive into a temporary directory, starts the server on free
loopback ports with a small heap (as the ``nobody`` account when run as root: both refuse to
run as root), waits for yellow health and removes everything when stopped. Security is off:
the node listens on 127.0.0.1 for one test session only.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import free_port

MAVEN = "https://repo1.maven.org/maven2"
START_TIMEOUT = 180.0
HEAP = "512m"
RUN_AS = "nobody"


@dataclass(frozen=True)
class Distribution:
    name: str  # elasticsearch | opensearch
    group_path: str
    version: str
    sha256: str  # of the archive, pinned when the version was chosen
    java_home_variable: str  # ES_JAVA_HOME | OPENSEARCH_JAVA_HOME
    java_options_variable: str
    config_variable: str  # ES_PATH_CONF | OPENSEARCH_PATH_CONF
    settings: tuple[str, ...]  # -E settings beyond the common ones

    @property
    def archive_name(self) -> str:
        return f"{self.name}-{self.version}.zip"

    @property
    def url(self) -> str:
        return f"{MAVEN}/{self.group_path}/{self.name}/{self.version}/{self.archive_name}"


ELASTICSEARCH = Distribution(
    name="elasticsearch",
    group_path="org/elasticsearch/distribution/integ-test-zip",
    version="9.2.0",
    sha256="bf44938a0490ba2a303d39c9cb64b38963dd08c812ce93e10816e878585bcb6b",
    java_home_variable="ES_JAVA_HOME",
    java_options_variable="ES_JAVA_OPTS",
    config_variable="ES_PATH_CONF",
    settings=(
        "xpack.security.enabled=false",
        "xpack.ml.enabled=false",
    ),
)
OPENSEARCH = Distribution(
    name="opensearch",
    group_path="org/opensearch/distribution/integ-test-zip",
    version="3.6.0",
    sha256="a91faa1dc1cadc78cb278b4f63847e19e1627a4e9de698e14e7efc14ee37b286",
    java_home_variable="OPENSEARCH_JAVA_HOME",
    java_options_variable="OPENSEARCH_JAVA_OPTS",
    config_variable="OPENSEARCH_PATH_CONF",
    settings=(),
)
DISTRIBUTIONS = {item.name: item for item in (ELASTICSEARCH, OPENSEARCH)}


class NodeUnavailable(RuntimeError):
    """The node cannot be had here (no JDK 21+, no archive): the caller skips or fails."""


def cache_dir() -> Path:
    configured = os.environ.get("WACHTER_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "wachter-test"


def find_java(minimum: int = 21) -> Path | None:
    """The newest JDK under /usr/lib/jvm (or $JAVA_HOME) of at least ``minimum``."""
    candidates = [Path(path) for path in (os.environ.get("JAVA_HOME"),) if path]
    candidates += sorted(Path("/usr/lib/jvm").glob("*"))
    found: list[tuple[int, Path]] = []
    for home in candidates:
        major = _java_major(home)
        if major is not None and major >= minimum and (home / "bin" / "java").exists():
            found.append((major, home))
    return max(found)[1] if found else None


def _java_major(home: Path) -> int | None:
    try:
        release = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)', release, re.M)
    return int(match.group(1)) if match else None


def fetch(distribution: Distribution) -> Path:
    """The archive in the cache, downloaded (and its SHA-256 checked) if it is not there yet."""
    target = cache_dir() / distribution.archive_name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:  # two test workers may ask at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists():
            return target
        partial = target.with_suffix(".part")
        try:
            with (
                urllib.request.urlopen(distribution.url, timeout=120) as response,
                open(partial, "wb") as out,
            ):
                shutil.copyfileobj(response, out, 1 << 20)
        except (urllib.error.URLError, OSError) as error:
            raise NodeUnavailable(f"cannot download {distribution.url}: {error}") from None
        digest = hashlib.sha256(partial.read_bytes()).hexdigest()
        if digest != distribution.sha256:
            partial.unlink()
            raise NodeUnavailable(
                f"{distribution.archive_name}: SHA-256 {digest}, expected {distribution.sha256}"
            )
        partial.rename(target)
        return target


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        data: bytes = response.read()
        return data


class PortTaken(RuntimeError):
    """The server could not bind its HTTP or transport port (someone else took it)."""


BIND_ATTEMPTS = 3


class SearchNode:
    """One running server; ``url`` is its HTTP address."""

    def __init__(self, distribution: Distribution) -> None:
        self.distribution = distribution
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"wachter-{distribution.name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self._command_line: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SearchNode:
        java = find_java()
        if java is None:
            raise NodeUnavailable("no JDK 21 or newer under /usr/lib/jvm")
        archive = fetch(self.distribution)
        home = self._unpack(archive)
        for name in ("data", "logs", "tmp"):
            (self.root / name).mkdir()
        shutil.copytree(home / "config", self.root / "config")
        self.root.chmod(0o755)
        as_root = os.geteuid() == 0
        if as_root:  # the server writes beside itself (GC log, keystore): it owns its copy
            account = pwd.getpwnam(RUN_AS)
            for directory, _dirs, files in os.walk(self.root):
                os.chown(directory, account.pw_uid, account.pw_gid)
                for file in files:
                    os.chown(Path(directory) / file, account.pw_uid, account.pw_gid)
        for attempt in range(1, BIND_ATTEMPTS + 1):
            self._command_line = self._command(home, java)
            try:
                self._launch()
                return self
            except PortTaken:
                # free_port() can only say a port was free a moment ago: another test
                # process (xdist) may start a node on it first. New ports, fresh logs.
                if attempt == BIND_ATTEMPTS:
                    raise
                self.port = free_port()
                for log_file in (*(self.root / "logs").glob("*.log"), self.root / "stderr.log"):
                    log_file.unlink(missing_ok=True)
        return self

    def _launch(self) -> None:
        as_root = os.geteuid() == 0
        self.process = subprocess.Popen(
            [*(["runuser", "-u", RUN_AS, "--"] if as_root else []), *self._command_line],
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "stderr.log", "ab"),  # noqa: SIM115 - lives with the process
            start_new_session=True,
        )
        self._wait_until_healthy()

    def stop_process(self) -> None:
        """Kill the server as a crash or outage would; its port, data and files stay."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self) -> None:
        """Start the server again after ``stop_process``: same port, same data directory."""
        self.stop_process()
        self._launch()

    def _unpack(self, archive: Path) -> Path:
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(self.root / "dist")
        home = next((self.root / "dist").iterdir())
        for path in (home / "bin").iterdir():
            path.chmod(0o755)
        for directory, _dirs, _files in os.walk(self.root / "dist"):
            Path(directory).chmod(0o755)
        return home

    def _command(self, home: Path, java: Path) -> list[str]:
        distribution = self.distribution
        settings = [
            "discovery.type=single-node",
            "network.host=127.0.0.1",
            f"http.port={self.port}",
            f"transport.port={free_port()}",
            f"path.data={self.root / 'data'}",
            f"path.logs={self.root / 'logs'}",
            "cluster.routing.allocation.disk.threshold_enabled=false",
            *distribution.settings,
        ]
        environment = {
            distribution.java_home_variable: str(java),
            distribution.java_options_variable: f"-Xms{HEAP} -Xmx{HEAP}",
            distribution.config_variable: str(self.root / "config"),
            "ES_TMPDIR": str(self.root / "tmp"),
            "OPENSEARCH_TMPDIR": str(self.root / "tmp"),
        }
        variables = [f"{name}={value}" for name, value in environment.items()]
        arguments = [f"-E{setting}" for setting in settings]
        return ["env", *variables, str(home / "bin" / distribution.name), *arguments]

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self.log_tail()
                if "BindException" in tail or "Address already in use" in tail:
                    raise PortTaken(f"{self.distribution.name}: a port was taken:\n{tail}")
                raise RuntimeError(f"{self.distribution.name} exited at start:\n{tail}")
            try:
                health = json.loads(
                    _read(f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=5s")
                )
                if health.get("status") in ("yellow", "green"):
                    return
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.distribution.name} not healthy in {START_TIMEOUT:.0f} s")

    def log_tail(self, lines: int = 30) -> str:
        logs = [*sorted((self.root / "logs").glob("*.log")), self.root / "stderr.log"]
        text = "\n".join(path.read_text(errors="replace") for path in logs if path.exists())
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    """``fetch``: download every archive now (make test does, before the workers start)."""
    if argv[1:] != ["fetch"]:
        sys.stderr.write("usage: python -m tests.support.search_nodes fetch\n")
        return 2
    if find_java() is None:
        sys.stderr.write("No JDK 21 or newer under /usr/lib/jvm: search-node tests cannot run.\n")
        return 1
    for distribution in DISTRIBUTIONS.values():
        try:
            sys.stdout.write(f"{distribution.archive_name}: {fetch(distribution)}\n")
        except NodeUnavailable as error:
            sys.stderr.write(f"{error}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
