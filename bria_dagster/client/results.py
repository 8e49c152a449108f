"""Typed answers from the API: a submission, a job's status, a finished job's result.

Parsing follows Bria's rules (bria-api.md §2.2, §2.4): an explicit ``status`` wins; else an
``error`` means ERROR, a ``result`` means COMPLETED, a ``status_url`` means IN_PROGRESS, anything
else is UNKNOWN. ``seed`` may arrive as an int or a string; error codes as int or string.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class JobState(enum.StrEnum):
    """The four states the Status Service reports."""

    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    ERROR = "ERROR"
    UNKNOWN = "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        """COMPLETED, ERROR and UNKNOWN end a job; IN_PROGRESS does not."""
        return self is not JobState.IN_PROGRESS


class ErrorInfo(BaseModel):
    """Bria's error object: ``code`` (int or string), ``message``, ``details``."""

    model_config = ConfigDict(extra="allow")

    code: int | str | None = None
    message: str | None = None
    details: str | None = None

    @field_validator("details", "message", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return value if value is None or isinstance(value, str) else str(value)


class JobResult(BaseModel):
    """What a finished job produced. Fields absent from the API's answer are ``None``.

    ``raw`` keeps the whole ``result`` object for fields this model does not name (ads v2 ``url``
    and ``results``, attribution ``content``, v1 result lists, …).
    """

    model_config = ConfigDict(extra="ignore")

    request_id: str | None = None
    image_url: str | None = None
    video_url: str | None = None
    mask_url: str | None = None
    seed: int | None = None
    prompt: str | None = None
    refined_prompt: str | None = None
    structured_prompt: str | None = None
    structured_instruction: str | None = None
    warning: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_as_int(cls, value: Any) -> Any:
        if isinstance(value, str):
            stripped = value.strip()
            return int(stripped) if stripped.lstrip("-").isdigit() else None
        return value

    @field_validator("structured_prompt", "structured_instruction", mode="before")
    @classmethod
    def _json_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict | list):
            import json

            return json.dumps(value)
        return value

    @property
    def url(self) -> str | None:
        """The main output's URL: image, video, mask, an ads/v1 ``url``, or the first of
        :attr:`urls`."""
        main = (
            self.image_url
            or self.video_url
            or self.mask_url
            or self.raw.get("url")
            or self.raw.get("result_url")
        )
        if main:
            return str(main)
        found = self.urls
        return found[0] if found else None

    @property
    def urls(self) -> list[str]:
        """Every output URL of a multi-output answer: v1 shots (``result`` as
        ``[[url, seed, session_id], ...]``; ads generate as ``[{"url": ...}, ...]``), and
        ``results`` (ads resize), ``ads`` or ``masks`` (all masks) lists of ``{"url": ...}``."""
        found: list[str] = []
        listed = self.raw.get("result")
        if isinstance(listed, list):
            for item in listed:
                if isinstance(item, list) and item and isinstance(item[0], str):
                    found.append(item[0])
                elif isinstance(item, str):
                    found.append(item)
                elif isinstance(item, dict) and item.get("url"):
                    found.append(str(item["url"]))
        for name in ("results", "ads", "masks"):
            items = self.raw.get(name)
            if isinstance(items, list):
                found.extend(
                    str(item["url"]) for item in items if isinstance(item, dict) and item.get("url")
                )
        return found


class JobStatus(BaseModel):
    """One answer of the Status Service (or a webhook delivery, which has the same body)."""

    request_id: str
    status: JobState
    result: JobResult | None = None
    error: ErrorInfo | None = None
    warning: str | None = None
    unrecognised: str | None = None
    """Set when no documented state can be read from the body: the ``status`` value sent (e.g.
    ``'QUEUED'``), or ``'none'`` when no field decides. ``status`` is then UNKNOWN by Bria's
    derivation rule, but nothing says the job failed: callers keep polling instead."""


class Submission(BaseModel):
    """The answer to an asynchronous submit: where to follow the job."""

    request_id: str
    status_url: str | None = None
    endpoint: str
    warning: str | None = None
    submitted_at: float = Field(description="time.time() when the API accepted the job")


def derive_state(body: Any) -> JobState:
    """Bria's status derivation for any response body (bria-api.md §2.4)."""
    if not isinstance(body, dict):
        return JobState.UNKNOWN
    status = body.get("status")
    if isinstance(status, str):
        try:
            return JobState(status.upper())
        except ValueError:
            return JobState.UNKNOWN
    if body.get("error"):
        return JobState.ERROR
    if body.get("result") is not None:
        return JobState.COMPLETED
    if body.get("status_url"):
        return JobState.IN_PROGRESS
    return JobState.UNKNOWN


def unrecognised_status(body: Any) -> str | None:
    """The status a body reports when it is none of the four states (see
    :attr:`JobStatus.unrecognised`), else None."""
    if not isinstance(body, dict):
        return "none"
    status = body.get("status")
    if status is not None:
        known = isinstance(status, str) and status.upper() in JobState.__members__
        return None if known else str(status)[:64]
    decided = body.get("error") or body.get("result") is not None or body.get("status_url")
    return None if decided else "none"


def parse_result(body: dict[str, Any], request_id: str | None = None) -> JobResult:
    """Build a :class:`JobResult` from a body holding ``result`` (or flat result fields)."""
    result = body.get("result")
    fields: dict[str, Any] = dict(result) if isinstance(result, dict) else dict(body)
    raw = dict(result) if isinstance(result, dict) else {"result": result}
    return JobResult.model_validate(
        {
            **fields,
            "request_id": body.get("request_id") or request_id,
            "warning": body.get("warning") or fields.get("warning"),
            "raw": raw,
        }
    )


def parse_status(body: Any, request_id: str | None = None) -> JobStatus:
    """Parse a status, webhook or sync-submit body into a :class:`JobStatus`."""
    data = body if isinstance(body, dict) else {}
    state = derive_state(body)
    rid = str(data.get("request_id") or request_id or "")
    error = data.get("error")
    return JobStatus(
        request_id=rid,
        status=state,
        result=parse_result(data, rid) if state is JobState.COMPLETED else None,
        error=ErrorInfo.model_validate(error) if isinstance(error, dict) else None,
        warning=data.get("warning"),
        unrecognised=unrecognised_status(body),
    )
