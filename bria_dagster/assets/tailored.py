"""``bria_tailored_model``: a tailored model trained from brand images, as Dagster assets.

The factory makes ``<name>_training``, executed by runs: it creates (or finds) the project,
the dataset of the images, the model, and starts training, each creating POST recorded in the
ledger before it leaves and after it answers (:mod:`bria_dagster.ledger.creations`), then ends.
``<name>`` is the trained model, materialized by the result sensor
(:func:`~bria_dagster.sensors.build_bria_result_sensor`) when training completes, with the model,
project and dataset ids, the image count and the training time. A downstream step that lists it
in ``upstream`` gets its id as ``step.tailored_model_id``.

The images come from a folder (observed by the source asset ``<name>_images``, whose data version
is the images' digest) or from upstream Bria assets. Their digest names the dataset and the
model, and is the data version of both assets: changed images show the training stale, a
retrain makes a new dataset and model instead of reusing the old one, and the generations made
with the old model then show stale; unchanged images reuse what the ledger recorded (no second
project, dataset or model).
"""

import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from bria_dagster.assets.factory import StepResources
from bria_dagster.assets.metadata import PREVIEW_KEY
from bria_dagster.assets.options import BriaStepOptions, key_of, takes_options
from bria_dagster.assets.spend import step_caps
from bria_dagster.assets.upstream import MODEL_ID_KEY, upstream_images
from bria_dagster.client.catalog.training import collect_images
from bria_dagster.client.errors import (
    BriaConnectionError,
    BriaError,
    BriaInputError,
    RateLimitError,
    ServerError,
)
from bria_dagster.client.types.tailored import (
    IpMedium,
    IpType,
    StartTrainingRequest,
    TrainingMode,
    TrainModelRequest,
)
from bria_dagster.ledger import BudgetExceededError, LedgerEntry
from bria_dagster.ledger.creations import LedgerCreationLog, created_id
from bria_dagster.results.images import preview_data_uri

TRAINING_SUFFIX = "_training"
IMAGES_SUFFIX = "_images"
DATA_VERSION_TAG = "dagster/data_version"
"""The tag Dagster reads a runless materialization's data version from."""
PREVIEW_IMAGES = 6
"""How many training images the preview shows."""


@dataclass(frozen=True, kw_only=True)
class TailoredTraining:
    """What a tailored model is trained as: the project's visual IP and the training mode."""

    ip_type: IpType
    ip_medium: IpMedium
    images: str | os.PathLike[str] | None = None
    """A folder of training images (.jpg/.jpeg/.png/.webp, 5-200); None: the images of the
    ``upstream`` steps."""
    project_name: str | None = None
    """The project, found by this name or created; default: the asset's name."""
    ip_name: str | None = None
    ip_description: str | None = None
    project_description: str | None = None
    model_description: str | None = None
    training_mode: TrainingMode = "fully_automated"
    training_parameters: Mapping[str, Any] | None = None
    """Expert parameters (``training_mode="expert"``), as for ``StartTrainingRequest``."""
    increase_resolution: bool | None = None
    """Let Bria upscale images under 1024 px on upload (it refuses them otherwise)."""


@dataclass(frozen=True)
class TailoredModelAsset:
    """The assets of a tailored model: ``training`` (runs), ``model`` (the sensor) and, for a
    folder, the observable ``images``. Iterate it into ``Definitions``; pass it as
    ``upstream`` to a generation step (``step.tailored_model_id``) and to the result sensor."""

    training: dg.AssetsDefinition
    model: dg.AssetSpec
    images: dg.SourceAsset | None = None
    is_tailored_model = True

    @property
    def key(self) -> dg.AssetKey:
        """The trained model's key."""
        return self.model.key

    @property
    def submit(self) -> dg.AssetsDefinition:
        """The asset whose run starts training (the sensor's target, as a deferred step's)."""
        return self.training

    @property
    def partitions_def(self) -> None:
        """A tailored model is not partitioned."""
        return None

    check_names: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset]:
        if self.images is not None:
            yield self.images
        yield self.training
        yield self.model


def images_digest(images: Mapping[str, bytes]) -> str:
    """The sha256 of the images' names and contents (order-free): the training's data version."""
    lines = sorted(f"{name}\t{hashlib.sha256(data).hexdigest()}" for name, data in images.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def folder_images(folder: Path) -> dict[str, bytes]:
    """The training images of a folder, by file name (checked: 5-200 images)."""
    return {name: Path(path).read_bytes() for name, path in collect_images(folder)}  # type: ignore[arg-type]


@takes_options(BriaStepOptions)
def bria_tailored_model(
    name: str, training: TailoredTraining, options: BriaStepOptions
) -> TailoredModelAsset:
    """A tailored model trained from a folder (``training.images``) or from the stored images
    of ``upstream`` steps; deferred: the result sensor materializes ``name`` when training
    completes. The keyword arguments are those of :class:`BriaStepOptions` (not
    ``partitions_def``: one model per asset)."""
    if options.partitions_def is not None:
        raise BriaInputError("partitions_def", "a tailored model asset is not partitioned")
    if (training.images is None) == (not options.upstream_steps):
        raise BriaInputError(
            "images", "give a folder (TailoredTraining.images) or upstream steps, one of the two"
        )
    model_key = options.key(name)
    training_key = options.key(name + TRAINING_SUFFIX)
    images_asset: dg.SourceAsset | None = None
    arguments = options.asset_arguments(
        training_key,
        f"Creates the tailored project, dataset and model of {name} and starts its training; "
        f"the result sensor materializes {name} when training completes.",
    )
    if training.images is not None:
        folder = Path(training.images)
        images_key = options.key(name + IMAGES_SUFFIX)

        @dg.observable_source_asset(
            key=images_key,
            group_name=options.group_name,
            description=f"The training images of {name} in {folder}; observed, their data "
            "version is their digest.",
        )
        def _images() -> dg.DataVersion:
            return dg.DataVersion(images_digest(folder_images(folder)))

        images_asset = _images
        arguments["deps"] = [images_key]

    # Annotated: keyword arguments spread from a dict leave dg.asset's overloads untyped.
    training_asset: Callable[[Callable[..., Any]], dg.AssetsDefinition] = dg.asset(**arguments)

    @training_asset
    def _train(context: dg.AssetExecutionContext) -> dg.MaterializeResult[Any]:
        step = StepResources.of(context, options)
        try:
            if training.images is not None:
                images = folder_images(Path(training.images))
            else:
                images = {
                    Path(image.record.key).name: image.read_bytes()
                    for item in options.upstream_steps
                    for image in upstream_images(context.instance, key_of(item), None, step.store)
                }
            collect_images(images)
        except BriaInputError as exc:
            raise dg.Failure(f"{name}: {exc}", allow_retries=False) from exc
        digest = images_digest(images)
        identity = _identity(model_key, training, digest)
        project_identity = _identity(model_key, training, None)
        label = f"{name}-{digest[:12]}"
        log = LedgerCreationLog(
            ledger=step.ledger,
            steps_asset=training_key.to_user_string(),
            model_asset=model_key.to_user_string(),
            identity=identity,
            project_identity=project_identity,
            run_id=context.run.run_id,
            summary={"image_count": len(images), "images_sha256": digest},
            caps=step_caps(context, step.bria),
        )
        request = TrainModelRequest(
            images=images,
            project_name=training.project_name or name,
            ip_type=training.ip_type,
            ip_medium=training.ip_medium,
            ip_name=training.ip_name,
            ip_description=training.ip_description,
            project_description=training.project_description,
            dataset_name=label,
            model_name=label,
            model_description=training.model_description,
            training_mode=training.training_mode,
            training_parameters=training.training_parameters,
            increase_resolution=training.increase_resolution,
            wait=False,
            creation_log=log,
        )
        try:
            outcome = step.client.tailored.train_model(request)
        except BudgetExceededError as exc:
            raise dg.Failure(f"{name}: {exc}", allow_retries=False) from exc
        except BriaError as exc:
            # Retried: what is transient. A rerun finds what was made (ledger, then names).
            if isinstance(exc, RateLimitError | ServerError | BriaConnectionError):
                raise
            raise dg.Failure(f"{name}: {exc}", allow_retries=False) from exc
        context.log.info(
            "tailored model %s (%s) on dataset %s of project %s: %s; %d image(s) uploaded, "
            "%d already there",
            outcome.model.id,
            label,
            outcome.dataset.id,
            outcome.project.id,
            outcome.model.status,
            outcome.images_uploaded,
            outcome.images_skipped,
        )
        return dg.MaterializeResult(
            metadata={
                PREVIEW_KEY: dg.MetadataValue.md(_preview(images)),
                MODEL_ID_KEY: dg.MetadataValue.int(outcome.model.id),
                "bria/tailored_model_name": dg.MetadataValue.text(label),
                "bria/tailored_model_status": dg.MetadataValue.text(str(outcome.model.status)),
                "bria/tailored_project_id": dg.MetadataValue.int(outcome.project.id),
                "bria/tailored_dataset_id": dg.MetadataValue.int(outcome.dataset.id),
                "bria/image_count": dg.MetadataValue.int(len(images)),
                "bria/images_uploaded": dg.MetadataValue.int(outcome.images_uploaded),
                "bria/images_sha256": dg.MetadataValue.text(digest),
            },
            data_version=dg.DataVersion(digest),
        )

    model = dg.AssetSpec(
        key=model_key,
        deps=[training_key],
        metadata={"bria/mode": "deferred", "bria/kind": "tailored_model"},
        **options.spec_arguments(
            options.description
            or f"The tailored model {name}, materialized by the result sensor when its "
            "training completes."
        ),
    )
    return TailoredModelAsset(training=_train, model=model, images=images_asset)


def _identity(model_key: dg.AssetKey, training: TailoredTraining, digest: str | None) -> str:
    """What is trained, as a digest: a change of any part is a new dataset and model (with
    ``digest`` None: what the project is)."""
    parameters = StartTrainingRequest.model_validate(dict(training.training_parameters or {}))
    facts: dict[str, Any] = {
        "asset": model_key.to_user_string(),
        "project": training.project_name,
        "ip": [training.ip_type, training.ip_medium, training.ip_name, training.ip_description],
    }
    if digest is not None:
        facts["mode"] = training.training_mode
        facts["parameters"] = parameters.model_dump(mode="json", exclude_none=True)
        facts["images"] = digest
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _preview(images: Mapping[str, bytes]) -> str:
    """Thumbnails of the first training images, as markdown."""
    shown = []
    for image_name in sorted(images)[:PREVIEW_IMAGES]:
        uri = preview_data_uri(io.BytesIO(images[image_name]))
        if uri is not None:
            shown.append(f"![{image_name}]({uri})")
    more = len(images) - len(shown)
    return "\n".join(shown) + (f"\n\n… and {more} more" if more > 0 else "")


def model_materialization(
    instance: dg.DagsterInstance, asset: TailoredModelAsset, entry: LedgerEntry
) -> dg.AssetMaterialization:
    """The sensor's materialization of a trained model (``entry``: its training row, completed
    with the model as ``result``), with the training run's preview and the images' digest as
    its data version."""
    model = entry.result or {}
    summary = entry.request_summary
    metadata: dict[str, Any] = {}
    latest = instance.fetch_materializations(asset.training.key, limit=1).records
    trained = latest[0].asset_materialization if latest else None
    if trained is not None and PREVIEW_KEY in trained.metadata:
        metadata[PREVIEW_KEY] = trained.metadata[PREVIEW_KEY]
    seconds = (entry.completed_at or 0.0) - (entry.submitted_at or 0.0)
    metadata |= {
        MODEL_ID_KEY: dg.MetadataValue.int(created_id(entry) or 0),
        "bria/request_id": dg.MetadataValue.text(entry.request_id or ""),
        "bria/tailored_model_name": dg.MetadataValue.text(str(model.get("name"))),
        "bria/tailored_model_status": dg.MetadataValue.text(str(model.get("status"))),
        "bria/tailored_project_id": dg.MetadataValue.int(int(summary.get("project_id", 0))),
        "bria/tailored_dataset_id": dg.MetadataValue.int(int(summary.get("dataset_id", 0))),
        "bria/image_count": dg.MetadataValue.int(int(summary.get("image_count", 0))),
        "bria/images_sha256": dg.MetadataValue.text(str(summary.get("images_sha256", ""))),
        "bria/training_seconds": dg.MetadataValue.float(round(max(0.0, seconds), 3)),
        "bria/poll_count": dg.MetadataValue.int(entry.poll_count),
    }
    digest = str(summary.get("images_sha256", ""))
    return dg.AssetMaterialization(
        asset_key=asset.key,
        metadata=metadata,
        tags={DATA_VERSION_TAG: digest} if digest else None,
    )
