"""The demo content pipeline: a product table becomes photos, cut-outs, packshots, lifestyle
shots, ad formats and ads, every image stored in object storage and visible in Dagster.

    product_photo_requests ─► product_photo ─► cutout ─┬─► packshot
      (submits; deferred)      (result sensor)          └─► lifestyle_shot ─► ad_formats ─► ad

    brand_images ─► brand_style_model_training ─► brand_style_model ─► campaign_visual
      (the tailored half, ``bria_dagster/demo/brand.py``: a style model trained on brand images)

One partition per SKU of ``bria_dagster/demo/products.csv``. ``product_photo`` is deferred: its
submit step ends at once and the ``bria_results`` sensor materializes it as Bria finishes,
then asks for the rest of the chain for that SKU. The other steps wait inline. Re-running a
step reuses every stored result (no second payment) unless the run is tagged
``bria/force=true``, as the nightly schedule does.

With no ``BRIA_API_TOKEN``, everything runs against a local Bria emulator; set the token (and
``BRIA_STORAGE_URI``, e.g. ``s3://bucket/prefix``) and the same definitions use Bria and your
storage. Load with ``dagster dev -w workspace.yaml``.
"""

import dagster as dg

from bria_dagster.assets import FORCE_TAG, StepInput, bria_asset
from bria_dagster.assets.deferred import bria_deferred_asset
from bria_dagster.client.types.ads import AdElement, AdsGenerateRequest
from bria_dagster.client.types.editing import ExpandRequest, RemoveBackgroundRequest
from bria_dagster.client.types.fields import AspectRatio
from bria_dagster.client.types.generation import GenerateImageRequest
from bria_dagster.client.types.product import LifestyleShotByTextRequest, PackshotRequest
from bria_dagster.demo.brand import BRAND_ASSETS, brand_results
from bria_dagster.demo.products import Product, load_products
from bria_dagster.demo.target import demo_resources
from bria_dagster.demo.video import VIDEO_ASSETS
from bria_dagster.sensors import build_bria_result_sensor

PRODUCTS = {product.sku: product for product in load_products()}
BRAND_SCENE = "on a sunlit terracotta shelf against a soft sand-coloured wall, brand style"
AD_FORMATS: tuple[AspectRatio, ...] = ("1:1", "9:16", "16:9")
OWNERS = ["team:content"]

skus = dg.StaticPartitionsDefinition(list(PRODUCTS))


def product(step: StepInput) -> Product:
    """The product row of the step's partition."""
    return PRODUCTS[step.partition_key or ""]


# The builders say which request they return: the factory gives each asset the image checks
# that apply to it (dimensions where a size is asked, alpha for the cut-out).
def product_photo_request(step: StepInput) -> GenerateImageRequest:
    """A square studio photo from the product's prompt and seed."""
    return GenerateImageRequest(
        prompt=product(step).prompt, aspect_ratio="1:1", seed=product(step).seed
    )


def cutout_request(step: StepInput) -> RemoveBackgroundRequest:
    """The upstream photo without its background."""
    return RemoveBackgroundRequest(image=step.image.data)


def packshot_request(step: StepInput) -> PackshotRequest:
    """The cut-out on white."""
    return PackshotRequest(file=step.image.data, background_color="#FFFFFF", sku=step.partition_key)


def lifestyle_request(step: StepInput) -> LifestyleShotByTextRequest:
    """The cut-out placed in the brand's scene."""
    return LifestyleShotByTextRequest(
        file=step.image.data,
        scene_description=f"{product(step).name} {BRAND_SCENE}",
        num_results=1,
        sku=step.partition_key,
    )


def ad_format_requests(step: StepInput) -> dict[str, ExpandRequest]:
    """The lifestyle shot expanded to each ad format."""
    return {ratio: ExpandRequest(image=step.image.data, aspect_ratio=ratio) for ratio in AD_FORMATS}


product_photo = bria_deferred_asset(
    "product_photo",
    product_photo_request,
    partitions_def=skus,
    group_name="catalog",
    owners=OWNERS,
    description="A studio photo of each product, generated from its name, colour and description.",
)

cutout = bria_asset(
    "cutout",
    cutout_request,
    upstream=product_photo,
    partitions_def=skus,
    group_name="catalog",
    owners=OWNERS,
    description="The product cut out of its photo (transparent background).",
)

packshot = bria_asset(
    "packshot",
    packshot_request,
    upstream=cutout,
    partitions_def=skus,
    group_name="catalog",
    owners=OWNERS,
    description="A packshot on white for the web shop.",
)

lifestyle_shot = bria_asset(
    "lifestyle_shot",
    lifestyle_request,
    upstream=cutout,
    partitions_def=skus,
    group_name="marketing",
    owners=OWNERS,
    description="The product placed in the brand's scene.",
    checks={"image_readable"},  # its model could ask for an aspect ratio; this step asks none
)

ad_formats = bria_asset(
    "ad_formats",
    ad_format_requests,
    upstream=lifestyle_shot,
    partitions_def=skus,
    group_name="marketing",
    owners=OWNERS,
    description="The lifestyle shot expanded to the ad formats 1:1, 9:16 and 16:9.",
)


def build_ad(step: StepInput) -> AdsGenerateRequest:
    """A brand-free template ad with the product's name and its square lifestyle shot."""
    elements = [AdElement(layer_type="text", content_type="Heading #1", content=product(step).name)]
    square = step.variant("1:1").result_url
    if square:
        elements.append(AdElement(layer_type="image", content_type="Image #1", content=square))
    return AdsGenerateRequest(template_id="1061", elements=elements)


ad = bria_asset(
    "ad",
    build_ad,
    upstream=ad_formats,
    partitions_def=skus,
    group_name="marketing",
    owners=OWNERS,
    description="A template ad built from the square format.",
)

bria_results = build_bria_result_sensor(
    [product_photo],
    downstream=[cutout, packshot, lifestyle_shot, ad_formats, ad],
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
)


@dg.schedule(
    cron_schedule="0 2 * * *",
    target=[product_photo.submit],
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Nightly catalog refresh: new product photos for every SKU (forced, so paid).",
)
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per SKU; the sensor takes each photo through the rest of the chain."""
    night = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [
        dg.RunRequest(run_key=f"{night}:{sku}", partition_key=sku, tags={FORCE_TAG: "true"})
        for sku in PRODUCTS
    ]


defs = dg.Definitions(
    assets=[
        *product_photo,
        cutout,
        packshot,
        lifestyle_shot,
        ad_formats,
        ad,
        *BRAND_ASSETS,
        *VIDEO_ASSETS,
    ],
    sensors=[bria_results, brand_results],
    schedules=[nightly_refresh],
    resources=demo_resources(),
)
