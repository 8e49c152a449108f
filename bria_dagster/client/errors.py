"""The exception hierarchy: catch by meaning, not by HTTP code.

Every error carries what is known (``status_code``, ``request_id``, Bria's ``code``, ``message``
and ``details``) and never the API token.

```
BriaError
├── BriaInputError            bad input caught before any HTTP call (also a ValueError)
├── BriaAPIError              the API answered with an error
│   ├── AuthenticationError   401, 403
│   ├── ValidationError       400, 413, 415, 422, 460 (422 also covers moderation)
│   ├── NotFoundError         404
│   ├── ConflictError         409, 412 (tailored-model state rules)
│   ├── RateLimitError        429 (``retry_after`` in seconds when given)
│   └── ServerError           5xx
├── BriaConnectionError       no answer; ``request_sent`` tells whether a POST may have run
│   ├── AmbiguousSubmitError  a POST's body went out and no answer came: it may be billed
│   └── RateLimitStoreError   the shared rate-limit store (Redis, PostgreSQL, SQLite) failed
├── JobFailedError            the job ended ERROR or UNKNOWN (``request_id``, Bria's error)
├── WaitTimeoutError          gave up waiting; the job may still finish (``request_id``)
├── DownloadError             a result download failed (expired URL, size cap, bad status)
└── WebhookVerificationError  a webhook delivery's signature or timestamp is wrong
```
"""

from __future__ import annotations

from typing import Any


class BriaError(Exception):
    """Base class of every error this package raises."""


class BriaInputError(BriaError, ValueError):
    """A bad argument, found before any HTTP call. ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class BriaAPIError(BriaError):
    """The API answered with an HTTP error. Bria's error object, when present, is parsed."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | str | None = None,
        details: str | None = None,
        request_id: str | None = None,
        endpoint: str | None = None,
        body: Any = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        self.details = details
        self.request_id = request_id
        self.endpoint = endpoint
        self.body = body
        parts = [f"HTTP {status_code}" if status_code else None, endpoint, message]
        if details and details != message:
            parts.append(details)
        if request_id:
            parts.append(f"request_id={request_id}")
        super().__init__(": ".join(p for p in parts if p))


class AuthenticationError(BriaAPIError):
    """401 (missing or invalid token) or 403 (token not entitled: plan, quota, feature)."""


class ValidationError(BriaAPIError):
    """400, 413, 415, 422 (incl. content moderation) or 460 (input URL could not be fetched)."""

    @property
    def is_moderation(self) -> bool:
        """True when the API refused content on moderation grounds (HTTP 422)."""
        return self.status_code == 422


class NotFoundError(BriaAPIError):
    """404: unknown request_id, object, route, or a feature not enabled for the organisation."""


class ConflictError(BriaAPIError):
    """409 or 412: the object's state forbids the call (e.g. training already running)."""


class RateLimitError(BriaAPIError):
    """429 after the allowed retries. ``retry_after`` is the server's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(BriaAPIError):
    """5xx from the API (after retries where retrying was safe)."""


class BriaConnectionError(BriaError):
    """The API could not be reached or the connection failed.

    ``request_sent`` is False when the failure happened before the request left (connect error):
    such a call provably did not run.
    """

    def __init__(self, message: str, *, endpoint: str | None = None, request_sent: bool) -> None:
        self.endpoint = endpoint
        self.request_sent = request_sent
        super().__init__(f"{endpoint}: {message}" if endpoint else message)


class AmbiguousSubmitError(BriaConnectionError):
    """A submit's body was sent but no answer arrived (read timeout, reset).

    Bria may have accepted and billed the job; it is not retried automatically. Resubmit only
    after deciding that paying twice is acceptable.
    """

    def __init__(self, message: str, *, endpoint: str | None = None) -> None:
        super().__init__(message, endpoint=endpoint, request_sent=True)


class RateLimitStoreError(BriaConnectionError):
    """The rate-limit store (``rate_limit_backend``) could not be used: nothing was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"rate-limit store unavailable ({message}); nothing was sent. Check rate_limit_backend",
            request_sent=False,
        )


class JobFailedError(BriaError):
    """The job ended in ERROR or UNKNOWN. Carries the request_id and Bria's error object."""

    def __init__(
        self,
        request_id: str,
        status: str,
        *,
        code: int | str | None = None,
        message: str | None = None,
        details: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        text = f"job {request_id} ended {status}"
        if code is not None:
            text += f" (code {code})"
        if message:
            text += f": {message}"
        if details and details != message:
            text += f" ({details})"
        super().__init__(text)

    @property
    def is_moderation(self) -> bool:
        """True when Bria's error code says the content was refused by moderation."""
        return str(self.code) == "422"


class WaitTimeoutError(BriaError):
    """Stopped waiting before the job ended. The job may still complete: resume with its id."""

    def __init__(self, request_id: str, waited_seconds: float, *, url: str | None = None) -> None:
        self.request_id = request_id
        self.waited_seconds = waited_seconds
        self.url = url
        """For a v1 placeholder result: the URL that never filled."""
        if url is None:
            super().__init__(f"job {request_id} still running after {waited_seconds:.1f} s")
        else:
            super().__init__(
                f"{request_id}: placeholder result {url.partition('?')[0]} still not filled "
                f"after {waited_seconds:.1f} s (not sent again: wait longer or check with Bria)"
            )


class DownloadError(BriaError):
    """A result download failed. ``expired`` is True for a 403/404 from the result host."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)

    @property
    def expired(self) -> bool:
        """True when the result URL has most likely expired (fetch the status again)."""
        return self.status_code in (403, 404, 410)


class WebhookVerificationError(BriaError):
    """A webhook delivery failed signature or timestamp verification."""
