"""Image segmentation under ``/v2/image/segment/``: every region of an image as its own mask.

Not in Bria's OpenAPI files; the source is Bria's page "Generate All Masks"
(docs.bria.ai/image-editing/v2-endpoints/generate-all-masks) and bria-api.md §5.6 and §6.
"""

from __future__ import annotations

from bria_dagster.client.types.base import JobRequest
from bria_dagster.client.types.fields import Flag, ImageInput


class AllMasksRequest(JobRequest):
    """``POST /v2/image/segment/all_masks``: segment an image into every region found.

    The result's ``masks`` lists one PNG per region (``result.urls``, best first), each at the
    input's resolution with the region 255 and the rest 0, with its ``id`` (its rank, from 1),
    ``area`` (white pixels) and ``confidence``. Masks may overlap. Feed one into ``edit.erase``
    or ``edit.gen_fill``. Mask URLs follow the organisation's image retention.
    """

    spec_notes = {
        "image": "endpoint absent from the spec (docs.bria.ai generate-all-masks); the page "
        "does not publish field names: ``image`` and the result's masks list "
        "``{id, url, area, confidence}`` follow the v2 edits and the page's wording",
        "visual_input_content_moderation": "assumed as on every v2 image edit",
    }

    image: ImageInput
    """The image to segment: public URL or base64 (JPEG, PNG, WEBP)."""
    visual_input_content_moderation: Flag | None = None
    """Default false: 422 if the input image fails moderation."""
