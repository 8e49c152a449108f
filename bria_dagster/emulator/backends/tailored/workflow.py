"""The whole tailored workflow: projects and models (training by time, checkpoints) over the
datasets of :mod:`.datasets`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bria_dagster.emulator.backends.tailored.datasets import Datasets
from bria_dagster.emulator.backends.tailored.records import Json, Key
from bria_dagster.emulator.errors import ApiError

TRAINING_DEFAULTS: Json = {
    "lr_scheduler": "constant_with_warmup",
    "learning_rate": 1e-4,
    "total_training_steps": 750,
    "rank": 128,
    "checkpoint_interval": 500,
    "lr_warmup_steps": 100,
}


class Tailored(Datasets):
    """Projects → datasets → images → models, with Bria's 404/409/412 rules."""

    # -- projects ------------------------------------------------------------------------------

    def list_projects(self) -> list[Json]:
        """Every project."""
        return list(self.projects.values())

    def project(self, project_id: Key) -> Json:
        """One project."""
        return self.get(self.projects, project_id, "project")

    def create_project(self, body: Json) -> Json:
        """A new active project."""
        pid = next(self.ids)
        project = {
            "id": pid,
            "project_name": body["project_name"],
            "project_description": body.get("project_description"),
            "ip_name": body.get("ip_name"),
            "ip_description": body.get("ip_description"),
            "ip_medium": body["ip_medium"],
            "ip_type": body["ip_type"],
            "training_version": "fibo",
            "status": "active",
            "created_at": self.now(),
            "updated_at": self.now(),
        }
        self.projects[pid] = project
        return project

    def update_project(self, project_id: Key, body: Json) -> Json:
        """Set the fields the body gives."""
        project = self.get(self.projects, project_id, "project")
        project.update({k: v for k, v in body.items() if v is not None})
        project["updated_at"] = self.now()
        return project

    def delete_project(self, project_id: Key) -> None:
        """Delete a project with its datasets and models (409 while one trains)."""
        project = self.get(self.projects, project_id, "project")
        datasets = [d for d in self.datasets.values() if d["project_id"] == project["id"]]
        if any(self.training(d["id"]) for d in datasets):
            raise ApiError(409, "Conflict", "a model of this project is training")
        for dataset in datasets:
            self.datasets.pop(dataset["id"])
            self.images.pop(dataset["id"], None)
        for mid in [m["id"] for m in self.models.values() if m["project_id"] == project["id"]]:
            self.models.pop(mid)
        self.projects.pop(project["id"])

    # -- models --------------------------------------------------------------------------------

    def list_models(self) -> list[Json]:
        """Every model."""
        return [self.model_view(x) for x in self.models.values()]

    def project_models(self, project_id: Key) -> list[Json]:
        """The models of a project."""
        return [x for x in self.list_models() if str(x["project_id"]) == str(project_id)]

    def model(self, model_id: Key) -> Json:
        """One model, its training status up to date."""
        return self.model_view(self.get(self.models, model_id, "model"))

    def create_model(self, body: Json) -> Json:
        """A new model (``Created``) on a dataset."""
        dataset = self.get(self.datasets, body["dataset_id"], "dataset")
        mid = next(self.ids)
        model = {
            "id": mid,
            "name": body["name"],
            "description": body.get("description"),
            "status": "Created",
            "training_mode": body.get("training_mode") or "fully_automated",
            "project_id": dataset["project_id"],
            "dataset_id": dataset["id"],
            "created_at": self.now(),
            "updated_at": self.now(),
            "active_model_version": "default",
            "training_parameters": {},
            "checkpoint_steps": [],
        }
        self.models[mid] = model
        return self.model_view(model)

    def update_model(self, model_id: Key, body: Json) -> Json:
        """Set the fields the body gives."""
        model = self.get(self.models, model_id, "model")
        model.update({k: v for k, v in body.items() if v is not None})
        return self.model_view(model)

    def delete_model(self, model_id: Key) -> None:
        """Delete a model that is not training."""
        model = self.get(self.models, model_id, "model")
        if self.model_view(model)["status"] == "InProgress":
            raise ApiError(409, "Conflict", "the model is training")
        self.models.pop(model["id"])

    def start_training(self, model_id: Key, body: Json, fails: Callable[[], bool]) -> Json:
        """Start training (once, on a completed dataset); it ends ``Failed`` if ``fails()``
        (asked only once the request is accepted)."""
        model = self.get(self.models, model_id, "model")
        if model["status"] != "Created":
            raise ApiError(409, "Conflict", f"training was already started ({model['status']})")
        dataset = self.get(self.datasets, model["dataset_id"], "dataset")
        if dataset["status"] != "completed":
            raise ApiError(412, "Precondition Failed", "the dataset must be completed first")
        parameters = {**TRAINING_DEFAULTS, **body} if model["training_mode"] == "expert" else {}
        steps = int(parameters.get("total_training_steps", 750))
        interval = int(parameters.get("checkpoint_interval", 500))
        model.update(
            status="InProgress",
            training_parameters=parameters,
            checkpoint_steps=list(range(interval, steps + 1, interval)) if parameters else [],
            _started=self.clock(),
            _fails=fails(),
        )
        return self.model_view(model)

    def stop_training(self, model_id: Key) -> Json:
        """Stop a training model."""
        model = self.get(self.models, model_id, "model")
        if self.model_view(model)["status"] != "InProgress":
            raise ApiError(409, "Conflict", "the model is not training")
        model["status"] = "Stopped"
        return self.model_view(model)

    def checkpoints(self, model_id: Key) -> Json:
        """A model's checkpoints and active version."""
        model = self.model(model_id)
        items = [_checkpoint_view(model, step) for step in model["checkpoint_steps"]]
        return {"checkpoints": items, "active_model_version": model["active_model_version"]}

    def checkpoint(self, model_id: Key, checkpoint_step: str) -> Json:
        """One checkpoint (404 when the model has no such step)."""
        model = self.get(self.models, model_id, "model")
        step = _step(model, checkpoint_step)
        return _checkpoint_view(self.model_view(model), step)

    def delete_checkpoint(self, model_id: Key, checkpoint_step: str) -> None:
        """Delete a checkpoint that is not the active one."""
        model = self.get(self.models, model_id, "model")
        step = _step(model, checkpoint_step)
        if str(model["active_model_version"]) == str(step):
            raise ApiError(
                400, "Invalid request", "checkpoint_step: the active checkpoint cannot go"
            )
        model["checkpoint_steps"] = [s for s in model["checkpoint_steps"] if s != step]

    def downloadable_model(self, model_id: Key) -> Json:
        """A model whose weights can be downloaded (409 before training ends)."""
        model = self.model(model_id)
        if model["status"] != "Completed":
            raise ApiError(409, "Conflict", "the model has not finished training")
        return model


def _step(model: Json, step: str) -> int:
    if not step.isdigit() or int(step) not in model["checkpoint_steps"]:
        raise ApiError(404, "Not Found", f"checkpoint {step} not found")
    return int(step)


def _checkpoint_view(model: Json, step: int) -> Json:
    return {
        "checkpoint_step": step,
        "training_job_id": 10_000 + model["id"],
        "created_at": model["updated_at"],
    }


def trained_model(extensions: dict[str, Any], model_id: object, missing: int = 403) -> Json:
    """The trained model a generation names, from the workflow kept in ``extensions``. ApiError
    ``missing`` when there is no such model (Bria: 403 "not in your organization"; 404 for
    image-to-video), 409 before it is trained."""
    tailored = extensions.get("tailored")
    model = None
    if isinstance(tailored, Tailored) and str(model_id).isdigit():
        model = tailored.models.get(int(str(model_id)))
    if not isinstance(tailored, Tailored) or model is None:
        reason = "Forbidden" if missing == 403 else "Not Found"
        raise ApiError(
            missing, reason, f"tailored_model_id: no model {model_id} in this organization"
        )
    view = tailored.model_view(model)
    if view["status"] != "Completed":
        raise ApiError(
            409,
            "Conflict",
            f"tailored_model_id: model {model_id} is {view['status']}, not Completed",
        )
    return view
