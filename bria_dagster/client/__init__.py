"""Bria's API as a typed httpx client, sync and async, with no Dagster import.

```python
from bria_dagster.client import BriaClient

with BriaClient(plan="starter") as bria:          # token from $BRIA_API_TOKEN
    job = bria.submit("image/generate", {"prompt": "a red bicycle"})
    result = bria.wait(job)                        # polls on a schedule, within the budget
    bria.download(result.image_url, "bicycle.png")
```
"""

from bria_dagster.client.async_client import AsyncBriaClient
from bria_dagster.client.download import DownloadResult
from bria_dagster.client.errors import (
    AmbiguousSubmitError,
    AuthenticationError,
    BriaAPIError,
    BriaConnectionError,
    BriaError,
    BriaInputError,
    ConflictError,
    DownloadError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    RateLimitStoreError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from bria_dagster.client.inputs import to_api_image
from bria_dagster.client.polling import JobOutcome, PollSchedule
from bria_dagster.client.results import (
    ErrorInfo,
    JobResult,
    JobState,
    JobStatus,
    Submission,
    parse_status,
)
from bria_dagster.client.settings import ClientSettings
from bria_dagster.client.sync_client import BriaClient
from bria_dagster.client.usage import UsageSnapshot
from bria_dagster.client.webhooks import sign_webhook, verify_webhook

__all__ = [
    "AmbiguousSubmitError",
    "AsyncBriaClient",
    "AuthenticationError",
    "BriaAPIError",
    "BriaClient",
    "BriaConnectionError",
    "BriaError",
    "BriaInputError",
    "ClientSettings",
    "ConflictError",
    "DownloadError",
    "DownloadResult",
    "ErrorInfo",
    "JobFailedError",
    "JobOutcome",
    "JobResult",
    "JobState",
    "JobStatus",
    "NotFoundError",
    "PollSchedule",
    "RateLimitError",
    "RateLimitStoreError",
    "ServerError",
    "Submission",
    "UsageSnapshot",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "parse_status",
    "sign_webhook",
    "to_api_image",
    "verify_webhook",
]
