"""Store URIs, optional backends, and storage secrets that must never leak."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import pytest

from bria_dagster.storage import (
    MissingBackendError,
    ObjectStore,
    StorageBackendError,
    StorageInputError,
)
from bria_dagster.storage.backends import redact, secret_values

from .seaweedfs import S3Endpoint


@pytest.mark.parametrize(
    ("uri", "package", "extra"),
    [
        ("gs://bucket/results", "gcsfs", "gcs"),
        ("gcs://bucket/results", "gcsfs", "gcs"),
        ("az://container/results", "adlfs", "azure"),
        ("abfs://container/results", "adlfs", "azure"),
    ],
)
def test_missing_cloud_extras_say_what_to_install(
    uri: str, package: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI installs every extra (`.[all]`), so the package is hidden here: importing it fails, as
    # on a machine without the extra, and fsspec forgets any class it already loaded for it.
    monkeypatch.setitem(sys.modules, package, None)
    scheme = uri.split("://", 1)[0]
    known = importlib.import_module("fsspec.registry")  # ``fsspec.registry`` is its mapping
    loaded = {k: v for k, v in known._registry.items() if k != scheme}
    monkeypatch.setattr(known, "_registry", loaded)
    with pytest.raises(MissingBackendError) as caught:
        ObjectStore.from_uri(uri)
    error = caught.value
    assert (error.field, error.package, error.extra) == ("uri", package, extra)
    assert f"bria-dagster[{extra}]" in str(error)
    assert package in str(error)
    assert isinstance(error, StorageInputError)


@pytest.mark.parametrize(
    ("uri", "storage_options", "field", "match"),
    [
        ("", None, "uri", "non-empty"),
        ("ftp://host/x", None, "uri", "unsupported scheme ftp://"),
        ("s3://", None, "uri", "bucket"),
        ("s3://bucket/../other", None, "uri", "'..'"),
        ("s3://bucket/x?versionId=1", None, "uri", "'?'"),
        ("file://relative/path", None, "uri", "absolute"),
        ("file:///tmp/x", ["not", "a", "mapping"], "storage_options", "mapping"),
    ],
)
def test_bad_uris_are_refused(uri: str, storage_options: object, field: str, match: str) -> None:
    with pytest.raises(StorageInputError, match=match) as caught:
        ObjectStore.from_uri(uri, storage_options)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_uris_are_normalised(tmp_path: Path) -> None:
    assert ObjectStore.from_uri(f"file://{tmp_path}/a/").uri == f"file://{tmp_path}/a"
    assert ObjectStore.from_uri(str(tmp_path / "a")).uri == f"file://{tmp_path}/a"
    assert ObjectStore.from_uri("memory://bucket/x").uri_for("k.png") == "memory://bucket/x/k.png"
    s3 = ObjectStore.from_uri("s3://bucket/prefix/", {"anon": True})
    assert s3.uri == "s3://bucket/prefix"
    assert s3.uri_for("a/b.png") == "s3://bucket/prefix/a/b.png"
    with pytest.raises(StorageInputError):
        s3.uri_for("../b.png")


def test_secret_values_and_redaction() -> None:
    options = {
        "endpoint_url": "http://127.0.0.1:9000",
        "key": "AKIAEXAMPLE",
        "secret": "wJalrXUtnFEMI",
        "client_kwargs": {"aws_session_token": "FwoGZXIvYXdzE", "region_name": "us-east-1"},
    }
    found = secret_values(options)
    assert set(found) == {"AKIAEXAMPLE", "wJalrXUtnFEMI", "FwoGZXIvYXdzE"}
    text = "denied for AKIAEXAMPLE with wJalrXUtnFEMI at http://127.0.0.1:9000"
    assert redact(text, found) == "denied for *** with *** at http://127.0.0.1:9000"


def test_wrong_credentials_fail_clearly_without_leaking_the_secret(
    seaweedfs: S3Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_secret = "Wr0ngSecretValue-do-not-leak"
    options = {**seaweedfs.storage_options(), "secret": wrong_secret}
    store = ObjectStore.from_uri(f"s3://{seaweedfs.bucket}/creds", options)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(StorageBackendError) as caught:
        store.put("a/b.png", [b"x"], content_type="image/png", provenance={})

    error = caught.value
    assert "PermissionError: Forbidden" in str(error)
    assert error.uri == f"s3://{seaweedfs.bucket}/creds/a/b.png"
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for exc in chain:
        assert wrong_secret not in str(exc) and wrong_secret not in repr(exc)
    assert wrong_secret not in repr(store) and wrong_secret not in store.uri
    assert seaweedfs.secret not in repr(seaweedfs)
    assert wrong_secret not in caplog.text
