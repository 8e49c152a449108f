"""Bria steps as Dagster assets: the factories, what request builders receive, the checks."""

from bria_dagster.assets.checks import CHECK_ALPHA, CHECK_DIMENSIONS, CHECK_READABLE
from bria_dagster.assets.deferred import DeferredBriaAsset, bria_deferred_asset
from bria_dagster.assets.errors import DEFAULT_RETRY_POLICY
from bria_dagster.assets.factory import FORCE_TAG, BriaStepConfig, bria_asset
from bria_dagster.assets.io_manager import BriaImageIOManager
from bria_dagster.assets.options import BRIA_IO_MANAGER_KEY, BriaAssetOptions, BriaStepOptions
from bria_dagster.assets.plan import RequestBuilder, RequestSet
from bria_dagster.assets.spend import DRY_RUN_TAG
from bria_dagster.assets.step import BriaImage, StepInput, UpstreamImage
from bria_dagster.assets.tailored import TailoredModelAsset, TailoredTraining, bria_tailored_model
from bria_dagster.results import METADATA_IMAGES, ImageRecord

__all__ = [
    "BRIA_IO_MANAGER_KEY",
    "CHECK_ALPHA",
    "CHECK_DIMENSIONS",
    "CHECK_READABLE",
    "DEFAULT_RETRY_POLICY",
    "DRY_RUN_TAG",
    "FORCE_TAG",
    "METADATA_IMAGES",
    "BriaAssetOptions",
    "BriaImage",
    "BriaImageIOManager",
    "BriaStepConfig",
    "BriaStepOptions",
    "DeferredBriaAsset",
    "ImageRecord",
    "RequestBuilder",
    "RequestSet",
    "StepInput",
    "TailoredModelAsset",
    "TailoredTraining",
    "UpstreamImage",
    "bria_asset",
    "bria_deferred_asset",
    "bria_tailored_model",
]
