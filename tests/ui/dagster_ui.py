"""Run the real Dagster UI on a workspace file: `dagster dev` on a free loopback port.

`running_dagster_ui(workspace)` starts `dagster dev -w <workspace>` in its own process group with
its own DAGSTER_HOME, waits until the webserver answers and every code location is loaded, and
stops the whole group on exit. `materialize_assets(...)` runs `dagster asset materialize` into the
same DAGSTER_HOME first, so the UI has materializations to show.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

DAGSTER = Path(sys.executable).with_name("dagster")
"""The `dagster` CLI of the interpreter running this code (the project's venv)."""

WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on PythonError { message }
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""

INSTANCE_YAML = "telemetry:\n  enabled: false\n"
"""dagster.yaml written into a new DAGSTER_HOME: local SQLite storage, no telemetry."""


class DagsterUIError(RuntimeError):
    """`dagster dev` did not come up, a code location failed to load, or a run failed."""


@dataclass(frozen=True)
class CodeTarget:
    """One code location of a workspace file, as `dagster asset materialize` options."""

    location_name: str | None
    cli_args: tuple[str, ...]


@dataclass
class DagsterUI:
    """A running `dagster dev`: where it answers and what it runs on."""

    base_url: str
    workspace: Path
    dagster_home: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def url(self, path: str) -> str:
        """The absolute URL of a UI route such as `/asset-groups`."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL query to the webserver and return its `data`."""
        return _graphql(self.base_url, query, variables)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines `dagster dev` printed, for error messages."""
        return _tail(self.log_path, lines)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def asset_url_path(asset_key: str) -> str:
    """The UI route of an asset given as `a/b` (key path parts joined by `/`)."""
    parts = [part for part in asset_key.strip("/").split("/") if part]
    if not parts:
        raise ValueError(f"asset_key: empty asset key {asset_key!r}")
    return "/assets/" + "/".join(parts)


def prepare_dagster_home(dagster_home: Path) -> Path:
    """Create DAGSTER_HOME if needed with telemetry off and Dagster's first-visit dialog seen.

    An existing dagster.yaml is kept as it is.
    """
    home = dagster_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        instance_yaml.write_text(INSTANCE_YAML)
    # The UI opens a "Join the Dagster community" dialog over every page on 127.0.0.1 until
    # this file exists (dagster._core.nux); it would cover the screenshots.
    nux = home / ".nux" / "nux.yaml"
    nux.parent.mkdir(exist_ok=True)
    if not nux.exists():
        nux.write_text("seen: 1\n")
    return home


def dagster_env(dagster_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with DAGSTER_HOME set (and `extra` on top)."""
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(dagster_home)
    env.update(extra or {})
    return env


def workspace_targets(workspace: Path) -> list[CodeTarget]:
    """The code locations of a workspace file as `-f/-m/--package-name`, `-a` and `-d` options.

    Paths are resolved against the workspace file's folder, as `dagster dev -w` does.
    """
    workspace = workspace.resolve()
    if not workspace.is_file():
        raise FileNotFoundError(f"workspace: no such file {workspace}")
    loaded = yaml.safe_load(workspace.read_text()) or {}
    entries = loaded.get("load_from") if isinstance(loaded, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"workspace: {workspace} has no `load_from` list")
    base = workspace.parent
    targets: list[CodeTarget] = []
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"workspace: unexpected load_from entry {entry!r}")
        ((kind, spec),) = entry.items()
        targets.append(_code_target(kind, spec, base))
    return targets


def _code_target(kind: str, spec: Any, base: Path) -> CodeTarget:
    options = {
        "python_file": ("relative_path", "-f"),
        "python_module": ("module_name", "-m"),
        "autoload_defs_module": ("module_name", "--autoload-defs-module-name"),
        "python_package": ("package_name", "--package-name"),
    }
    if kind not in options:
        raise ValueError(f"workspace: load_from kind {kind!r} is not supported here")
    name_key, flag = options[kind]
    if isinstance(spec, str):
        spec = {name_key: spec}
    if not isinstance(spec, dict) or name_key not in spec:
        raise ValueError(f"workspace: {kind} needs `{name_key}`")
    target = str(spec[name_key])
    if kind == "python_file":
        target = str((base / target).resolve())
    working_dir = (base / str(spec.get("working_directory", "."))).resolve()
    args = [flag, target, "-d", str(working_dir)]
    if spec.get("attribute"):
        args += ["-a", str(spec["attribute"])]
    return CodeTarget(location_name=spec.get("location_name"), cli_args=tuple(args))


def materialize_assets(
    workspace: Path,
    select: str,
    dagster_home: Path,
    *,
    partitions: Sequence[str] = (),
    location: str | None = None,
    in_process: bool = True,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 900.0,
) -> None:
    """Materialize `select` (a Dagster asset selection) into the instance at `dagster_home`.

    One `dagster asset materialize` run per partition (or one run when `partitions` is empty).
    `location` picks the code location when the workspace has several. `in_process` runs the
    steps in the run's process (half the time of a process per step on a small machine); turn
    it off for definitions whose job sets an executor of its own.
    """
    targets = workspace_targets(workspace)
    if location is not None:
        targets = [t for t in targets if t.location_name == location]
        if not targets:
            raise ValueError(f"location: no code location named {location!r} in {workspace}")
    elif len(targets) > 1:
        raise ValueError(f"location: {workspace} has {len(targets)} code locations; name one")
    home = prepare_dagster_home(dagster_home)
    base = [str(DAGSTER), "asset", "materialize", *targets[0].cli_args, "--select", select]
    if in_process:
        base += ["--config-json", json.dumps({"execution": {"config": {"in_process": {}}}})]
    for partition in partitions or [None]:
        cmd = base + (["--partition", partition] if partition is not None else [])
        done = subprocess.run(
            cmd,
            env=dagster_env(home, env),
            cwd=workspace.resolve().parent,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip().splitlines()[-40:]
            raise DagsterUIError(
                f"`dagster asset materialize --select {select}"
                f"{f' --partition {partition}' if partition else ''}` failed"
                f" (exit {done.returncode}):\n" + "\n".join(output)
            )


@contextlib.contextmanager
def running_dagster_ui(
    workspace: Path,
    dagster_home: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    startup_timeout_s: float = 180.0,
) -> Iterator[DagsterUI]:
    """Run `dagster dev -w workspace` on a free 127.0.0.1 port until the block ends.

    Without `dagster_home` a temporary one is used (and deleted afterwards). Yields once the
    webserver answers and every code location is loaded; raises `DagsterUIError` with the end of
    the log if it does not come up or a location fails to load.
    """
    workspace = workspace.resolve()
    if not workspace.is_file():
        raise FileNotFoundError(f"workspace: no such file {workspace}")
    with contextlib.ExitStack() as stack:
        if dagster_home is None:
            dagster_home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dg-ui-")))
        home = prepare_dagster_home(dagster_home)
        port = free_port()
        log_path = home / "dagster_dev.log"
        log = stack.enter_context(log_path.open("ab"))
        process = subprocess.Popen(
            [str(DAGSTER), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
            cwd=workspace.parent,
            env=dagster_env(home, env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.callback(_stop_process_group, process)
        ui = DagsterUI(
            base_url=f"http://127.0.0.1:{port}",
            workspace=workspace,
            dagster_home=home,
            log_path=log_path,
            process=process,
        )
        _wait_until_loaded(ui, startup_timeout_s)
        yield ui


def _wait_until_loaded(ui: DagsterUI, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            raise DagsterUIError(
                f"dagster dev exited with code {ui.process.returncode}:\n{ui.log_tail()}"
            )
        try:
            data = ui.graphql(WORKSPACE_QUERY)
        except (httpx.HTTPError, DagsterUIError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            last = _workspace_state(data)
            if last == "loaded":
                return
        time.sleep(0.5)
    raise DagsterUIError(
        f"dagster dev on {ui.base_url} not ready after {timeout_s:.0f}s ({last}):\n{ui.log_tail()}"
    )


def _workspace_state(data: dict[str, Any]) -> str:
    """'loaded' when every location loaded; raises when one failed; else what is pending."""
    workspace = data.get("workspaceOrError") or {}
    if workspace.get("__typename") != "Workspace":
        raise DagsterUIError(f"workspace failed to load: {workspace.get('message', workspace)}")
    entries = workspace.get("locationEntries") or []
    if not entries:
        return "no code locations yet"
    pending = []
    for entry in entries:
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            raise DagsterUIError(
                f"code location {entry['name']!r} failed to load: {loaded.get('message')}"
            )
        if entry.get("loadStatus") != "LOADED" or not loaded:
            pending.append(entry["name"])
    return "loaded" if not pending else f"loading {', '.join(pending)}"


def _graphql(base_url: str, query: str, variables: Mapping[str, Any] | None) -> dict[str, Any]:
    response = httpx.post(
        base_url + "/graphql",
        json={"query": query, "variables": dict(variables or {})},
        timeout=30.0,
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise DagsterUIError(f"GraphQL errors: {body['errors']}")
    return dict(body["data"])


def _stop_process_group(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGINT to `dagster dev` (its clean shutdown), then SIGKILL to whatever is left of its group.

    SIGINT can be ignored when the caller itself runs with SIGINT ignored (a background job),
    hence the kill of the whole group after the grace period.
    """
    pgid = process.pid  # start_new_session made it the group leader
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    # Killed children linger as zombies until init reaps them; wait for the group to be empty.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
