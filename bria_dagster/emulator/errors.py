"""The error every emulator layer raises to answer in Bria's error envelope."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered in Bria's envelope: ``{"error": {code, message, details}, request_id}``.

    ``plain_body`` makes the answer a bare JSON string, as some v1 ads endpoints do.
    """

    def __init__(
        self,
        status: int,
        message: str,
        details: str | None = None,
        *,
        code: int | str | None = None,
        plain_body: bool = False,
    ) -> None:
        self.status = status
        self.message = message
        self.details = details
        self.code = status if code is None else code
        self.plain_body = plain_body
        super().__init__(f"{status}: {message}")
