"""The repository's copies of Bria's OpenAPI files are the files PROVENANCE.md names, and the
same bytes as the project's shared reference when that folder sits beside the repository."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from .openapi import SPEC_DIR, SPEC_FILE_COUNT

SHARED_DIR = SPEC_DIR.parents[2].parent / "shared" / "bria-openapi"
"""``../shared/bria-openapi`` beside the repository root (present in the project's CI only)."""


def _listed() -> dict[str, str]:
    text = (SPEC_DIR / "PROVENANCE.md").read_text()
    return dict(re.findall(r"^\| (\S+\.yml) \| `([0-9a-f]{64})` \|$", text, flags=re.MULTILINE))


def test_every_copy_has_the_sha256_its_provenance_names() -> None:
    listed = _listed()
    files = {path.name: path for path in SPEC_DIR.glob("*.yml")}
    assert len(files) == SPEC_FILE_COUNT
    assert set(listed) == set(files)
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], name


@pytest.mark.skipif(not SHARED_DIR.is_dir(), reason=f"no {SHARED_DIR} beside the repository")
def test_copies_are_byte_identical_to_the_shared_reference() -> None:
    shared = {path.name: path.read_bytes() for path in sorted(SHARED_DIR.glob("*.yml"))}
    ours = {path.name: path.read_bytes() for path in sorted(SPEC_DIR.glob("*.yml"))}
    assert sorted(shared) == sorted(ours)
    changed = [name for name in shared if shared[name] != ours[name]]
    assert changed == [], f"refresh tests/data/bria-openapi from {SHARED_DIR}: {changed}"


def test_the_copies_live_inside_the_repository() -> None:
    root = Path(__file__).resolve().parents[2]
    assert SPEC_DIR.resolve().is_relative_to(root)
