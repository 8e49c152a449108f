"""The storage layer's exceptions.

```
StorageError
├── StorageInputError        bad argument, found before any I/O (also a ValueError); ``field``
│   └── MissingBackendError  the URI's scheme needs a package that is not installed
├── ObjectNotFoundError      no object (or no provenance sidecar) at that key
└── StorageBackendError      the backend failed; the message never holds storage secrets
    └── StorageAccessError   the backend refused access (credentials, permissions, no bucket)
```

Whether an object already exists is not an error: ``ObjectStore.put`` returns the stored object
with ``created=False`` (see ``ObjectStore.put``).
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the storage layer raises."""


class StorageInputError(StorageError, ValueError):
    """A bad argument, found before any I/O. ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class MissingBackendError(StorageInputError):
    """The URI's scheme needs an optional package. ``package`` and ``extra`` say what to install."""

    def __init__(self, scheme: str, package: str, extra: str) -> None:
        self.scheme = scheme
        self.package = package
        self.extra = extra
        super().__init__(
            "uri",
            f"{scheme}:// needs the {package} package; install it with "
            f"`pip install 'bria-dagster[{extra}]'` (or `pip install {package}`)",
        )


class ObjectNotFoundError(StorageError, FileNotFoundError):
    """Nothing is stored at ``key`` (or, from ``read_provenance``, the object has no sidecar)."""

    def __init__(self, key: str, message: str | None = None) -> None:
        self.key = key
        super().__init__(message or f"no object at key {key!r}")


class StorageBackendError(StorageError):
    """The storage backend failed (network, permissions, bucket missing, ...).

    ``operation`` names what was attempted and ``uri`` where; storage secrets are redacted from
    the message, and the backend's original exception is chained only when it held none.
    """

    def __init__(self, operation: str, uri: str, detail: str) -> None:
        self.operation = operation
        self.uri = uri
        super().__init__(f"{operation} {uri}: {detail}")


class StorageAccessError(StorageBackendError):
    """The backend refused access: wrong credentials, no write permission, or a missing bucket
    or folder. Retrying does not help; the storage settings must change."""
