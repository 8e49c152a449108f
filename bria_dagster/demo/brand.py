"""The demo's tailored half: a brand style model trained on generated brand images, and a
campaign visual generated with it.

    brand_images ─► brand_style_model_training ─► brand_style_model ─► campaign_visual
     (5 looks)       (project, dataset, model,      (result sensor,       (tailored
                      training started)              training done)        generation)

``brand_style_model`` is deferred: its training run ends once training has started, and the
``bria_brand_results`` sensor materializes it when training completes (the embedded emulator
trains in ``BRIA_DEMO_TRAINING_SECONDS``, 5 s by default), then asks for ``campaign_visual``.
The images' digest is the data version of the training and the model: regenerated brand
images show the training stale, and a retrain a new model.
"""

from __future__ import annotations

import dagster as dg

from bria_dagster.assets import StepInput, bria_asset
from bria_dagster.assets.tailored import TailoredTraining, bria_tailored_model
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.client.types.tailored_generation import TailoredGenerateRequest
from bria_dagster.sensors import build_bria_result_sensor

OWNERS = ["team:brand"]
BRAND_LOOKS = {
    "terracotta-shelf": "a terracotta shelf with ceramics in warm morning light",
    "sand-wall": "a sand-coloured plaster wall with a soft palm shadow",
    "linen-table": "a linen-covered table with a clay jug, sunlit",
    "courtyard": "a quiet stone courtyard with olive trees at golden hour",
    "window-seat": "a window seat with woven cushions and dappled light",
}
"""The brand's visual identity: five generated looks the style model learns from."""
BRAND_STYLE = "warm mediterranean brand photography, soft sunlight, sand and terracotta palette"


def brand_image_requests(step: StepInput) -> dict[str, GenerateImageRequest]:
    """One square picture per brand look, in the brand's style."""
    return {
        look: GenerateImageRequest(
            prompt=f"{scene}, {BRAND_STYLE}", aspect_ratio="1:1", seed=100 + index
        )
        for index, (look, scene) in enumerate(BRAND_LOOKS.items())
    }


def campaign_request(step: StepInput) -> TailoredGenerateRequest:
    """The summer campaign's key visual, in the trained brand style."""
    return TailoredGenerateRequest(
        tailored_model_id=step.tailored_model_id,
        prompt="a summer campaign key visual: a sunlit terrace set for breakfast",
        aspect_ratio="16:9",
        seed=7,
    )


brand_images = bria_asset(
    "brand_images",
    brand_image_requests,
    group_name="brand",
    owners=OWNERS,
    description="Five generated pictures of the brand's look: the style model's training set.",
)

brand_style_model = bria_tailored_model(
    "brand_style_model",
    TailoredTraining(
        ip_type="stylized_scene",
        ip_medium="photography",
        project_name="Bria demo brand style",
        ip_description="warm mediterranean brand photography",
        increase_resolution=True,  # the demo's images are small
    ),
    upstream=brand_images,
    group_name="brand",
    owners=OWNERS,
    description="A tailored model of the brand's style, trained on brand_images; materialized "
    "by the result sensor when training completes.",
)

campaign_visual = bria_asset(
    "campaign_visual",
    campaign_request,
    upstream=brand_style_model,
    group_name="brand",
    owners=OWNERS,
    description="The campaign's key visual, generated with the brand style model.",
)

brand_results = build_bria_result_sensor(
    [brand_style_model],
    name="bria_brand_results",
    downstream=[campaign_visual],
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
)

BRAND_ASSETS = [brand_images, *brand_style_model, campaign_visual]
"""Every asset of the tailored half, for ``Definitions``."""
