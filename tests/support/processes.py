"""Running the real ``wachter`` command in a subprocess, with a clean environment."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

WACHTER = Path(sys.executable).with_name("wachter")


def clean_env(**variables: str) -> dict[str, str]:
    """The parent's environment without any WACHTER_* setting (syslog off), plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACHTER_")}
    # Tests run many services at once: syslog receivers only where a test asks for them.
    env.update({"WACHTER_SYSLOG_UDP": "off", "WACHTER_SYSLOG_TCP": "off"})
    env.update(variables)
    return env


def run_wachter(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WACHTER), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


class RunningProcess:
    """A long-running ``wachter`` command whose stdout lines can be awaited."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        threading.Thread(
            target=self._pump, args=(process.stdout, self.lines.put), daemon=True
        ).start()
        threading.Thread(
            target=self._pump, args=(process.stderr, self.stderr_lines.append), daemon=True
        ).start()

    @staticmethod
    def _pump(stream, sink) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink(line.rstrip("\n"))

    def wait_for_line(self, starting: str, timeout: float = 60) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line starting {starting!r}; stderr: {self.stderr_lines[-20:]}"
                ) from None
            if line.startswith(starting):
                return line

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Signal and wait; a process that does not stop fails with its thread stacks."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # serve and worker dump every stack
            time.sleep(2)
            raise AssertionError(
                f"still running {timeout} s after signal {sig}; stderr:\n"
                + "\n".join(self.stderr_lines[-200:])
            ) from None


@contextmanager
def started(*args: str, cwd: Path, env: dict[str, str]) -> Iterator[RunningProcess]:
    process = subprocess.Popen(
        [str(WACHTER), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    running = RunningProcess(process)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    """Poll ``condition`` every tenth of a second; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.1)
