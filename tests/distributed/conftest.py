"""Fixtures of the distributed test: the suite's SeaweedFS server."""

from tests.storage.seaweedfs import S3Endpoint, seaweedfs  # noqa: F401
