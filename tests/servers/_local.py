"""What every throwaway local server needs: a free port, a scratch directory
owned by the user the server runs as, and a wait for it to answer."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def docker_answers() -> bool:
    """Whether a Docker daemon answers a ping (the CLI alone proves nothing)."""
    host = os.environ.get("DOCKER_HOST", "")
    # No socket, no daemon: say so without the SDK, which would leak a socket
    # object on the failed connect (a ResourceWarning).
    socket_path = host.removeprefix("unix://") or "/var/run/docker.sock"
    if (not host or host.startswith("unix://")) and not os.path.exists(socket_path):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextlib.contextmanager
def scratch_dir(prefix: str, owner: str | None) -> Iterator[Path]:
    """A short-named temporary directory, owned by ``owner`` when given."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    try:
        if owner is not None:
            entry = pwd.getpwnam(owner)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_as(owner: str | None, argv: Sequence[str]) -> None:
    """Run ``argv`` to completion as ``owner`` (servers refuse to run as root)."""
    subprocess.run(
        list(argv), check=True, capture_output=True, user=owner, group=_group(owner)
    )


def _group(owner: str | None) -> int | None:
    return pwd.getpwnam(owner).pw_gid if owner else None


def wait_until(
    ready: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 20.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalServer:
    """A server process this test run owns: it can be stopped and started
    again on the same port and data (a database restart, for fault tests)."""

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        url: str,
        ready: Callable[[], bool],
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float = 15.0,
        owner: str | None = None,
    ) -> None:
        self.argv, self.log, self.url, self.ready = list(argv), log, url, ready
        self.owner = owner
        self.stop_signal, self.stop_timeout = stop_signal, stop_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log_file:
            # The server process itself (not a wrapper), so signals reach it.
            self.process = subprocess.Popen(
                self.argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                user=self.owner,
                group=_group(self.owner),
            )
        wait_until(self.ready, self.process, self.log)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, timeout=self.stop_timeout, sig=self.stop_signal)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextlib.contextmanager
    def running(self) -> Iterator[LocalServer]:
        """Started (with the log's tail in the error if it never answers),
        and stopped on the way out, a failed start included: a process that
        never answered may still be running."""
        try:
            self.start()
            yield self
        finally:
            self.stop()


def stop(
    process: subprocess.Popen[bytes], timeout: float = 15.0, sig: int = signal.SIGTERM
) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
