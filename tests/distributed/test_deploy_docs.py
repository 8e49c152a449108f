"""docs/deploy.md's configuration, validated against the schemas of the pinned Dagster libraries.

The Kubernetes topology cannot run here; its ``dagster.yaml`` and executor config are checked
against ``K8sRunLauncher``'s and ``k8s_job_executor``'s config schemas (dagster-k8s), the
PostgreSQL + Celery ones against dagster's instance schema and ``celery_executor``'s. A renamed
or misspelt key fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.instance.config import dagster_instance_config_schema
from dagster_celery import celery_executor
from dagster_k8s import K8sRunLauncher, k8s_job_executor

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def instance_blocks() -> list[dict[str, Any]]:
    found = [yaml.safe_load(text) for text in blocks("yaml")]
    return [block for block in found if isinstance(block, dict) and "storage" in block]


def executor_config(name: str) -> dict[str, Any]:
    """The literal argument of ``<name>.configured(...)`` in the page's Python blocks."""
    for text in blocks("python"):
        for node in ast.walk(ast.parse(text.replace("...,", ""))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "configured"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name
            ):
                return ast.literal_eval(node.args[0])
    raise AssertionError(f"docs/deploy.md has no {name}.configured(...) block")


def assert_valid(config_type: Any, value: Any, what: str) -> None:
    result = validate_config(config_type, value)
    assert result.success, f"{what}: " + "; ".join(e.message for e in result.errors or [])


def test_instance_yaml_blocks_match_dagsters_schema() -> None:
    found = instance_blocks()
    assert len(found) == 2, "expected the PostgreSQL + Celery and the Kubernetes dagster.yaml"
    for block in found:
        assert_valid(dagster_instance_config_schema(), block, "dagster.yaml")
        postgres = block["storage"]["postgres"]
        url = postgres.get("postgres_url") or ""
        scheme = postgres.get("postgres_db", {}).get("scheme", "")
        assert url.startswith("postgresql+psycopg2://") or scheme == "postgresql+psycopg2"


def test_k8s_run_launcher_config_matches_dagster_k8s() -> None:
    (launcher,) = [b["run_launcher"] for b in instance_blocks() if "run_launcher" in b]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert_valid(K8sRunLauncher.config_type(), launcher["config"], "K8sRunLauncher config")


@pytest.mark.parametrize(
    ("name", "executor"),
    [("k8s_job_executor", k8s_job_executor), ("celery_executor", celery_executor)],
)
def test_executor_config_matches_its_schema(name: str, executor: Any) -> None:
    assert_valid(executor.config_schema.config_type, executor_config(name), name)


def test_a_misspelt_key_is_caught() -> None:
    config = executor_config("k8s_job_executor") | {"max_concurent": 8}
    assert not validate_config(k8s_job_executor.config_schema.config_type, config).success
