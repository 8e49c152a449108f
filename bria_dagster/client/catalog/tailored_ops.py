"""``client.tailored``: tailored generation, its projects / datasets / images / models, and the
one-call :meth:`TailoredNamespace.train_model`.

Management calls are synchronous v1 CRUD and return typed objects (:class:`Project`,
:class:`Dataset`, :class:`DatasetImage`, :class:`TailoredModel` ...). Ids are positional.
"""

from __future__ import annotations

import builtins
from typing import Any

from bria_dagster.client.catalog.binding import (
    JobOp,
    ModeT,
    Namespace,
    V1Op,
    WorkflowOp,
    api_call,
    build_request,
    operation,
)
from bria_dagster.client.catalog.effects import Plan
from bria_dagster.client.catalog.training import train_model_plan, wait_for_training
from bria_dagster.client.errors import BriaInputError
from bria_dagster.client.types import tailored as req
from bria_dagster.client.types import tailored_generation as gen
from bria_dagster.client.types.responses import (
    BulkUploadStatus,
    Checkpoint,
    Checkpoints,
    Dataset,
    DatasetImage,
    Download,
    Project,
    TailoredModel,
    field_of,
)

_TG = "/v1/tailored-gen"


def _list(model: type[Any], body: Any) -> list[Any]:
    return [model.model_validate(item) for item in body or []]


class ProjectsNamespace(Namespace[ModeT]):
    """``client.tailored.projects``."""

    create = V1Op(req.CreateProjectRequest, Project.model_validate)
    """Create a project for one visual IP (``ip_type``, ``ip_medium``)."""

    @operation
    def list(self) -> Plan[builtins.list[Project]]:
        """All projects of the organisation."""
        return _list(Project, (yield api_call("GET", f"{_TG}/projects")))

    @operation
    def get(self, project_id: int) -> Plan[Project]:
        body = yield api_call("GET", f"{_TG}/projects/{{project_id}}", project_id=project_id)
        return Project.model_validate(body)

    @operation
    def update(
        self,
        project_id: int,
        request: req.UpdateProjectRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[Project]:
        """Change name, description, ``ip_name`` or ``ip_description``."""
        body = build_request(req.UpdateProjectRequest, request, fields).to_payload()
        answer = yield api_call(
            "PUT", f"{_TG}/projects/{{project_id}}", json=body, project_id=project_id
        )
        return Project.model_validate(answer)

    @operation
    def delete(self, project_id: int) -> Plan[None]:
        """Delete the project with its datasets, images and models (409 while training)."""
        yield api_call("DELETE", f"{_TG}/projects/{{project_id}}", project_id=project_id)

    @operation
    def datasets(
        self, project_id: int, *, include_models: bool = False, include_models_ids: bool = False
    ) -> Plan[builtins.list[Dataset]]:
        """The project's datasets."""
        params = {"include_models": include_models, "include_models_ids": include_models_ids}
        body = yield api_call(
            "GET",
            f"{_TG}/projects/{{project_id}}/datasets",
            params={k: str(v).lower() for k, v in params.items() if v},
            project_id=project_id,
        )
        return _list(Dataset, body)

    @operation
    def models(
        self, project_id: int, *, include_training_parameters: bool = False
    ) -> Plan[builtins.list[TailoredModel]]:
        """The project's models."""
        body = yield api_call(
            "GET",
            f"{_TG}/projects/{{project_id}}/models",
            params={"include_training_parameters": "true"} if include_training_parameters else None,
            project_id=project_id,
        )
        return _list(TailoredModel, body)


class DatasetsNamespace(Namespace[ModeT]):
    """``client.tailored.datasets``."""

    create = V1Op(req.CreateDatasetRequest, Dataset.model_validate)
    """Create an empty draft dataset in a project."""

    @operation
    def list(self) -> Plan[builtins.list[Dataset]]:
        return _list(Dataset, (yield api_call("GET", f"{_TG}/datasets")))

    @operation
    def get(self, dataset_id: int, *, max_images: int | None = None) -> Plan[Dataset]:
        """The dataset with its images (up to ``max_images``, 1-200, default 200)."""
        if max_images is not None and not (
            isinstance(max_images, int) and 1 <= max_images <= req.MAX_BASIC_IMAGES
        ):
            raise BriaInputError("max_images", "must be an integer from 1 to 200")
        body = yield api_call(
            "GET",
            f"{_TG}/datasets/{{dataset_id}}",
            params={"max_images": max_images},
            dataset_id=dataset_id,
        )
        return Dataset.model_validate(body)

    @operation
    def update(
        self,
        dataset_id: int,
        request: req.UpdateDatasetRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[Dataset]:
        """Rename, set the ``visual_schema`` (draft only) or set ``status="completed"``."""
        body = build_request(req.UpdateDatasetRequest, request, fields).to_payload()
        answer = yield api_call(
            "PUT", f"{_TG}/datasets/{{dataset_id}}", json=body, dataset_id=dataset_id
        )
        return Dataset.model_validate(answer)

    @operation
    def delete(self, dataset_id: int) -> Plan[None]:
        yield api_call("DELETE", f"{_TG}/datasets/{{dataset_id}}", dataset_id=dataset_id)

    @operation
    def clone(
        self,
        dataset_id: int,
        request: req.CloneDatasetRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[Dataset]:
        """A new draft copy of the dataset (with its visual schema)."""
        body = build_request(req.CloneDatasetRequest, request, fields).to_payload()
        answer = yield api_call(
            "POST", f"{_TG}/datasets/{{dataset_id}}/clone", json=body, dataset_id=dataset_id
        )
        return Dataset.model_validate(answer)

    @operation
    def regenerate_captions(self, dataset_id: int) -> Plan[Dataset]:
        """Re-caption every image (after a schema change); poll until
        ``captions_update_status`` is ``completed``."""
        body = yield api_call("PUT", f"{_TG}/datasets/{{dataset_id}}/images", dataset_id=dataset_id)
        return Dataset.model_validate(body)

    @operation
    def bulk_upload(
        self,
        dataset_id: int,
        request: req.BulkUploadRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[Any]:
        """Start a zip upload into an empty advanced dataset; follow ``bulk_upload_status``."""
        body = build_request(req.BulkUploadRequest, request, fields).to_payload()
        return (
            yield api_call(
                "POST",
                f"{_TG}/datasets/{{dataset_id}}/images/bulk-upload",
                json=body,
                dataset_id=dataset_id,
            )
        )

    @operation
    def bulk_upload_status(self, dataset_id: int) -> Plan[BulkUploadStatus]:
        body = yield api_call(
            "GET", f"{_TG}/datasets/{{dataset_id}}/images/bulk-upload/status", dataset_id=dataset_id
        )
        return BulkUploadStatus.model_validate(body)

    @operation
    def download(self, dataset_id: int) -> Plan[Download]:
        """A pre-signed URL of an advanced dataset's images (and captions)."""
        body = yield api_call("GET", "/v1/datasets/{dataset_id}/download", dataset_id=dataset_id)
        return Download.model_validate(body)


class ImagesNamespace(Namespace[ModeT]):
    """``client.tailored.images``: the images of a (basic) dataset."""

    @operation
    def upload(
        self,
        dataset_id: int,
        request: req.UploadImageRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[DatasetImage]:
        """Upload one image (``file`` or ``image_url``, optional ``image_name``)."""
        body = build_request(req.UploadImageRequest, request, fields).to_payload()
        answer = yield api_call(
            "POST", f"{_TG}/datasets/{{dataset_id}}/images", json=body, dataset_id=dataset_id
        )
        return DatasetImage.model_validate(answer)

    @operation
    def list(self, dataset_id: int) -> Plan[builtins.list[DatasetImage]]:
        body = yield api_call("GET", f"{_TG}/datasets/{{dataset_id}}/images", dataset_id=dataset_id)
        return _list(DatasetImage, body)

    @operation
    def get(self, dataset_id: int, image_id: int) -> Plan[DatasetImage]:
        body = yield api_call(
            "GET",
            f"{_TG}/datasets/{{dataset_id}}/images/{{image_id}}",
            dataset_id=dataset_id,
            image_id=image_id,
        )
        return DatasetImage.model_validate(body)

    @operation
    def update_caption(
        self,
        dataset_id: int,
        image_id: int,
        request: req.UpdateCaptionRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[DatasetImage]:
        """Set a manual ``caption`` (JSON) or ``regenerate_caption=True``."""
        body = build_request(req.UpdateCaptionRequest, request, fields).to_payload()
        answer = yield api_call(
            "PUT",
            f"{_TG}/datasets/{{dataset_id}}/images/{{image_id}}",
            json=body,
            dataset_id=dataset_id,
            image_id=image_id,
        )
        return DatasetImage.model_validate(answer)

    @operation
    def delete(self, dataset_id: int, image_id: int) -> Plan[None]:
        yield api_call(
            "DELETE",
            f"{_TG}/datasets/{{dataset_id}}/images/{{image_id}}",
            dataset_id=dataset_id,
            image_id=image_id,
        )


class ModelsNamespace(Namespace[ModeT]):
    """``client.tailored.models``: models, training and checkpoints."""

    create = V1Op(req.CreateModelRequest, TailoredModel.model_validate)
    """Create a model (status ``Created``) on a completed dataset."""

    @operation
    def list(
        self, *, include_training_parameters: bool = False
    ) -> Plan[builtins.list[TailoredModel]]:
        body = yield api_call(
            "GET",
            f"{_TG}/models",
            params={"include_training_parameters": "true"} if include_training_parameters else None,
        )
        return _list(TailoredModel, body)

    @operation
    def get(self, model_id: int) -> Plan[TailoredModel]:
        body = yield api_call("GET", f"{_TG}/models/{{model_id}}", model_id=model_id)
        return TailoredModel.model_validate(body)

    @operation
    def update(
        self,
        model_id: int,
        request: req.UpdateModelRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[TailoredModel]:
        body = build_request(req.UpdateModelRequest, request, fields).to_payload()
        answer = yield api_call("PUT", f"{_TG}/models/{{model_id}}", json=body, model_id=model_id)
        return TailoredModel.model_validate(answer)

    @operation
    def delete(self, model_id: int) -> Plan[None]:
        yield api_call("DELETE", f"{_TG}/models/{{model_id}}", model_id=model_id)

    @operation
    def start_training(
        self,
        model_id: int,
        request: req.StartTrainingRequest | None = None,
        /,
        **fields: Any,
    ) -> Plan[TailoredModel]:
        """Start training (2-6 hours). Parameters are for ``expert`` models only."""
        body = build_request(req.StartTrainingRequest, request, fields).to_payload()
        answer = yield api_call(
            "POST", f"{_TG}/models/{{model_id}}/start_training", json=body, model_id=model_id
        )
        return TailoredModel.model_validate(answer)

    @operation
    def stop_training(self, model_id: int) -> Plan[TailoredModel]:
        """Stop training for good (it cannot be resumed)."""
        body = yield api_call("POST", f"{_TG}/models/{{model_id}}/stop_training", model_id=model_id)
        return TailoredModel.model_validate(body)

    @operation
    def wait_until_trained(
        self, model_id: int, *, poll_interval: float = 60.0, timeout: float | None = None
    ) -> Plan[TailoredModel]:
        """Poll the model until training ends; raise if it failed or stopped."""
        return (yield from wait_for_training(model_id, poll_interval, timeout))

    @operation
    def checkpoints(self, model_id: int) -> Plan[Checkpoints]:
        """The checkpoints of an expert model."""
        body = yield api_call("GET", f"{_TG}/models/{{model_id}}/checkpoints", model_id=model_id)
        return Checkpoints.model_validate(body)

    @operation
    def checkpoint(self, model_id: int, checkpoint_step: int) -> Plan[Checkpoint]:
        body = yield api_call(
            "GET",
            f"{_TG}/models/{{model_id}}/checkpoints/{{checkpoint_step}}",
            model_id=model_id,
            checkpoint_step=checkpoint_step,
        )
        return Checkpoint.model_validate(body)

    @operation
    def delete_checkpoint(self, model_id: int, checkpoint_step: int) -> Plan[None]:
        """Delete a checkpoint (not the active one)."""
        yield api_call(
            "DELETE",
            f"{_TG}/models/{{model_id}}/checkpoints/{{checkpoint_step}}",
            model_id=model_id,
            checkpoint_step=checkpoint_step,
        )

    @operation
    def download(self, model_id: int) -> Plan[Download]:
        """A pre-signed URL of the trained weights."""
        body = yield api_call("GET", f"{_TG}/models/{{model_id}}/download", model_id=model_id)
        return Download.model_validate(body)


class TailoredNamespace(Namespace[ModeT]):
    """Tailored generation (``client.tailored``): generate with a trained model, and the
    ``projects`` / ``datasets`` / ``images`` / ``models`` management calls."""

    generate = JobOp(gen.TailoredGenerateRequest)
    structured_prompt = JobOp(gen.TailoredStructuredPromptRequest)
    image_to_video = JobOp(gen.TailoredImageToVideoRequest)
    generate_visual_schema = V1Op(req.GenerateVisualSchemaRequest, field_of("visual_schema"))
    """The visual schema (JSON text) shared by 5-10 sample images."""
    refine_structured_prompt = V1Op(
        req.RefineStructuredPromptRequest, field_of("structured_prompt")
    )
    """A visual schema or caption edited by instruction (JSON text)."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.projects: ProjectsNamespace[ModeT] = ProjectsNamespace(client)
        self.datasets: DatasetsNamespace[ModeT] = DatasetsNamespace(client)
        self.images: ImagesNamespace[ModeT] = ImagesNamespace(client)
        self.models: ModelsNamespace[ModeT] = ModelsNamespace(client)

    train_model = WorkflowOp(req.TrainModelRequest, train_model_plan)
    """Train a tailored model from images in one call, resuming earlier attempts.

    Takes a :class:`~bria_dagster.client.types.tailored.TrainModelRequest` or its fields:
    ``images`` (a folder, a list or a ``{image_name: image}`` mapping; 5-200 images), the
    project's ``project_name``, ``ip_type`` and ``ip_medium``, and optional names, training and
    waiting settings. The call creates (or finds by name) the project, the dataset and the
    model, generates the visual schema from up to 10 of the images, uploads the images not
    uploaded yet (matched by ``image_name``), completes the dataset, starts training and, with
    ``wait``, polls every ``poll_interval`` seconds until the model is ``Completed`` (raising
    :class:`TrainingFailedError` if it fails or stops, :class:`WaitTimeoutError` after
    ``timeout``). Rerunning after an interruption picks up where it stopped.
    """
