"""Tailored datasets and their images: ``draft`` → ``completed``, captions, single and bulk
(zip) uploads, export (bria-api.md §5.3)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

from PIL import Image

from bria_dagster.emulator.backends.tailored.records import Json, Key, Records, caption_of
from bria_dagster.emulator.errors import ApiError
from bria_dagster.emulator.inputs import open_image

MAX_BASIC_IMAGES = 200
MAX_BULK_IMAGES = 5000
MIN_COMPLETED_IMAGES = 5
BULK_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def check_resolution(image: Image.Image, upscale: bool) -> None:
    """412 for an image too small to train on (under 1024 px unless ``upscale``; never 256)."""
    smallest = min(image.size)
    if smallest < 256 or (smallest < 1024 and not upscale):
        raise ApiError(412, "Precondition Failed", f"image resolution {image.size} is too low")


def bulk_report(status: str, done: int, failed: list[Json], error: str | None = None) -> Json:
    """A bulk upload's status body."""
    report: Json = {
        "status": status,
        "progress_percentage": 100,
        "total_processed": done + len(failed),
        "done": done,
        "failed": len(failed),
        "failed_images": failed,
    }
    if error:
        report["error"] = error
    return report


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class Datasets(Records):
    """The dataset and image half of the workflow."""

    def list_datasets(self) -> list[Json]:
        """Every dataset."""
        return [self.dataset_view(x) for x in self.datasets.values()]

    def project_datasets(self, project_id: Key) -> list[Json]:
        """The datasets of a project."""
        return [x for x in self.list_datasets() if str(x["project_id"]) == str(project_id)]

    def dataset(self, dataset_id: Key) -> Json:
        """One dataset, with its images."""
        return self.dataset_view(self.get(self.datasets, dataset_id, "dataset"), with_images=True)

    def create_dataset(self, body: Json) -> Json:
        """A new draft dataset in a project."""
        project = self.get(self.projects, body["project_id"], "project")
        did = next(self.ids)
        dataset = {
            "id": did,
            "project_id": project["id"],
            "name": body["name"],
            "visual_schema": None,
            "status": "draft",
            "captions_update_status": "empty",
            "upload_type": body.get("upload_type") or "basic",
            "created_at": self.now(),
            "updated_at": self.now(),
        }
        self.datasets[did] = dataset
        self.images[did] = {}
        return self.dataset_view(dataset)

    def update_dataset(self, dataset_id: Key, body: Json) -> Json:
        """Rename, set the visual schema (captions follow) or complete (5 images at least)."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if body.get("visual_schema") is not None and dataset["status"] == "completed":
            raise ApiError(409, "Conflict", "visual_schema cannot change on a completed dataset")
        if body.get("status") == "completed":
            count = len(self.images[dataset["id"]])
            if count < MIN_COMPLETED_IMAGES:
                raise ApiError(
                    409, "Conflict", f"a dataset needs {MIN_COMPLETED_IMAGES} images, has {count}"
                )
        for key in ("name", "visual_schema", "status"):
            if body.get(key) is not None:
                dataset[key] = body[key]
        if body.get("visual_schema") is not None:
            for image in self.images[dataset["id"]].values():
                image["caption"] = image["caption"] or caption_of(image["image_name"])
                image["caption_source"] = "automatic"
            dataset["captions_update_status"] = "completed"
        dataset["updated_at"] = self.now()
        return self.dataset_view(dataset)

    def delete_dataset(self, dataset_id: Key) -> None:
        """Delete a dataset and its images (409 while a model trains on it)."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if self.training(dataset["id"]):
            raise ApiError(409, "Conflict", "a model is training on this dataset")
        self.datasets.pop(dataset["id"])
        self.images.pop(dataset["id"], None)

    def clone_dataset(self, dataset_id: Key, body: Json) -> Json:
        """A draft copy of a dataset, with its images (named ``body["name"]`` if given)."""
        source = self.get(self.datasets, dataset_id, "dataset")
        did = next(self.ids)
        clone = {
            **{k: v for k, v in source.items() if not k.startswith("_")},
            "id": did,
            "status": "draft",
            "name": body.get("name") or f"Copy of {source['name']}",
        }
        self.datasets[did] = clone
        self.images[did] = {
            k: {**v, "dataset_id": did} for k, v in self.images[source["id"]].items()
        }
        return self.dataset_view(clone, with_images=True)

    def export_dataset(self, dataset_id: Key, read: Callable[[str], bytes]) -> Json:
        """URLs of a zip of an advanced dataset's images (``read`` fetches one image URL) and
        of a JSON file of their captions."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if dataset["upload_type"] != "advanced":
            raise ApiError(409, "Conflict", "only advanced datasets can be downloaded")
        images = list(self.images[dataset["id"]].values())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for image in images:
                archive.writestr(image["image_name"], read(image["image_url"]))
        captions = {image["image_name"]: image["caption"] for image in images}
        return {
            "download_url": self.store_file(buffer.getvalue(), "application/zip", "zip"),
            "captions_url": self.store_file(
                json.dumps(captions).encode(), "application/json", "json"
            ),
        }

    # -- images --------------------------------------------------------------------------------

    def image_target(self, dataset_id: Key) -> Json:
        """The dataset a single image upload goes to (409 when it takes no more)."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if dataset["status"] == "completed":
            raise ApiError(409, "Conflict", "images cannot be added to a completed dataset")
        if dataset["upload_type"] != "basic":
            raise ApiError(409, "Conflict", "single uploads need a basic dataset")
        if len(self.images[dataset["id"]]) >= MAX_BASIC_IMAGES:
            raise ApiError(409, "Conflict", f"a dataset holds at most {MAX_BASIC_IMAGES} images")
        return dataset

    def add_image(
        self, dataset: Json, image: Image.Image, name: str | None, source: str | None
    ) -> Json:
        """Store an image (as PNG) in a dataset; captioned if the dataset has a schema."""
        iid = next(self.ids)
        name = name or f"image_{iid}.png"
        url = self.store_file(_png(image), "image/png", "png")
        record = {
            "id": iid,
            "dataset_id": dataset["id"],
            "caption": caption_of(name) if dataset["visual_schema"] else None,
            "caption_source": "automatic" if dataset["visual_schema"] else "pending",
            "upload_source_url": source,
            "image_name": name,
            "image_url": url,
            "thumbnail_url": url,
            "created_at": self.now(),
            "updated_at": self.now(),
        }
        self.images[dataset["id"]][iid] = record
        return record

    def dataset_images(self, dataset_id: Key) -> list[Json]:
        """A dataset's images (none for an unknown dataset)."""
        return list(self.images.get(int(dataset_id), {}).values())

    def image(self, dataset_id: Key, image_id: Key) -> Json:
        """One image of a dataset (404 when either is unknown)."""
        return self.get(self.images.get(int(dataset_id), {}), image_id, "image")

    def caption_image(self, dataset_id: Key, image_id: Key, body: Json) -> Json:
        """Set an image's caption by hand (``body["caption"]``), or make one automatically."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        image = self.get(self.images[dataset["id"]], image_id, "image")
        if dataset["status"] == "completed":
            raise ApiError(409, "Conflict", "captions of a completed dataset cannot change")
        if body.get("caption"):
            image.update(caption=body["caption"], caption_source="manual")
        else:
            image.update(caption=caption_of(image["image_name"]), caption_source="automatic")
        return image

    def delete_image(self, dataset_id: Key, image_id: Key) -> None:
        """Remove an image from a draft dataset."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if dataset["status"] == "completed":
            raise ApiError(409, "Conflict", "images of a completed dataset cannot be deleted")
        image = self.get(self.images[dataset["id"]], image_id, "image")
        self.images[dataset["id"]].pop(image["id"])

    def regenerate_captions(self, dataset_id: Key) -> Json:
        """Caption every image automatically; the answer says ``in_progress`` as Bria's does."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        for image in self.images[dataset["id"]].values():
            image.update(caption=caption_of(image["image_name"]), caption_source="automatic")
        # Captions are made at once here; Bria reports in_progress and finishes later.
        dataset["captions_update_status"] = "completed"
        return {**self.dataset_view(dataset), "captions_update_status": "in_progress"}

    def start_bulk(self, dataset_id: Key) -> Json:
        """Begin the one bulk upload of an empty advanced dataset (409 otherwise)."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if dataset["upload_type"] != "advanced" or self.images[dataset["id"]] or "_bulk" in dataset:
            raise ApiError(409, "Conflict", "bulk upload needs an empty advanced dataset, once")
        dataset["_bulk"] = {"status": "processing", "progress_percentage": 0}
        return dataset

    def unzip_into(self, dataset: Json, data: bytes) -> Json:
        """Add every image of a zip archive to ``dataset``; report the ones refused."""
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            return bulk_report("failed", 0, [], "zip_url: not a zip archive")
        done, failed = 0, []
        names = [n for n in archive.namelist() if n.lower().endswith(BULK_IMAGE_SUFFIXES)]
        for name in sorted(names)[:MAX_BULK_IMAGES]:
            try:
                image = open_image(archive.read(name), name)
                check_resolution(image, True)
            except ApiError as error:
                failed.append(
                    {"filename": name, "error_code": error.status, "error_message": error.details}
                )
                continue
            self.add_image(dataset, image, name.rsplit("/", 1)[-1], None)
            done += 1
        return bulk_report("completed", done, failed)

    def bulk_status(self, dataset_id: Key) -> Json:
        """The bulk upload's report (404 if none ran)."""
        dataset = self.get(self.datasets, dataset_id, "dataset")
        if "_bulk" not in dataset:
            raise ApiError(404, "Not Found", "no bulk upload ran on this dataset")
        report: Json = dataset["_bulk"]
        return report

    def refine_structured_prompt(self, body: Json) -> Json:
        """The structured prompt with the instruction added (the dataset must be a draft)."""
        dataset = self.get(self.datasets, body["dataset_id"], "dataset")
        if dataset["status"] != "draft":
            raise ApiError(409, "Conflict", "the dataset must be a draft")
        given = body["structured_prompt"]
        prompt = json.loads(given) if isinstance(given, str) else given
        prompt["edit_instruction"] = body["instruction"]
        return {"structured_prompt": json.dumps(prompt)}
