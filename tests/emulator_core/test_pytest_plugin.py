"""The pytest plugin as a user meets it: installed fixtures in a fresh test folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

USER_TESTS = """
import httpx
import pytest

from bria_dagster.client import BriaClient


def test_a_job_and_the_log(bria_emulator):
    with BriaClient(api_token="user-token", base_url=bria_emulator.base_url) as bria:
        result = bria.run("image/generate", {"prompt": "a red bicycle"})
    assert result.image_url.startswith(bria_emulator.base_url)
    [sent] = bria_emulator.requests(path="/v2/image/generate", method="POST")
    assert sent.json["prompt"] == "a red bicycle"


def test_each_test_starts_empty(bria_emulator):
    assert bria_emulator.requests() == [] and bria_emulator.stats().submits == {}


@pytest.mark.bria_emulator(faults=[{"kind": "respond", "status_code": 418, "count": 1}])
def test_the_marker_sets_faults(bria_emulator):
    answer = httpx.get(bria_emulator.base_url + "/v2/status/x", headers={"api_token": "t"})
    assert answer.status_code == 418


def test_the_marker_lasts_one_test(bria_emulator, bria_emulator_server):
    assert bria_emulator is bria_emulator_server
    assert bria_emulator.state.faults.rules == []
    assert bria_emulator.state.config.output_megapixels == 0.03  # the conftest's config
"""

CONFTEST = """
import pytest

from bria_dagster.emulator import EmulatorConfig


@pytest.fixture(scope="session")
def bria_emulator_config():
    return EmulatorConfig(latency={"*": 0.05}, output_megapixels=0.03)
"""


def test_a_users_tests_get_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_user=USER_TESTS)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcome.assert_outcomes(passed=4)


def test_the_package_does_not_import_pytest() -> None:
    code = "import sys, bria_dagster.emulator, bria_dagster.client; print('pytest' in sys.modules)"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "False"


def test_the_readmes_plugin_example_passes(pytester: pytest.Pytester) -> None:
    section = README.read_text("utf-8").split("\n## The emulator\n", 1)[1].split("\n## ", 1)[0]
    [example] = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "def test_" in b]
    pytester.makepyfile(test_readme=example)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcome.assert_outcomes(passed=1)
