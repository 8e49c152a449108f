"""Video edits as Dagster assets, inline and deferred: the result is stored as the video it is
(streamed, with its container's extension), described (duration, fps, frames, codec,
resolution, a poster-frame preview) and checked (readable, as long as its input, alpha where
the operation promises it)."""

from __future__ import annotations

import io
from typing import Any

import dagster as dg
import pytest
from PIL import Image, ImageDraw

from bria_dagster.assets import StepInput, bria_asset, bria_deferred_asset
from bria_dagster.assets.checks import evaluate, verify_stored
from bria_dagster.client.types.video import (
    GreenScreenRequest,
    VideoIncreaseResolutionRequest,
    VideoRemoveBackgroundRequest,
)
from bria_dagster.sensors import TickLimits, build_bria_result_sensor
from bria_dagster.video_files import decode_frames, encode_video
from tests.dagster.deferred_graph import ASSETS, tick
from tests.dagster.test_inline_graph import _records

FRAMES, FPS, SIZE = 6, 12, (80, 60)


def _clip(emulator: Any, frames: int = FRAMES) -> str:
    """A tiny turntable clip (a red bottle turning on grey), hosted by the emulator."""
    shots = []
    for i in range(frames):
        shot = Image.new("RGB", SIZE, (225, 225, 220))
        width = 14 + 3 * (i % 3)
        ImageDraw.Draw(shot).rectangle((40 - width, 12, 40 + width, 52), fill=(190, 30, 40))
        shots.append(shot)
    return str(emulator.state.store_bytes(encode_video(shots, "mp4_h264", FPS), "video/mp4", "mp4"))


def _checks(asset: Any) -> set[str]:
    return {key.name for key in asset.check_keys}


def _evaluations(result: dg.ExecuteInJobResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_video_operations_get_the_video_checks_that_apply() -> None:
    url = "https://example.com/clip.mp4"
    clear = VideoRemoveBackgroundRequest(
        video=url, background_color="Transparent", output_container_and_codec="webm_vp9"
    )
    assert _checks(bria_asset("clear", clear)) == {
        "video_readable",
        "video_duration",
        "video_alpha",
    }
    black = VideoRemoveBackgroundRequest(video=url, background_color="Black")
    assert _checks(bria_asset("black", black)) == {"video_readable", "video_duration"}

    def bigger(step: StepInput) -> VideoIncreaseResolutionRequest:
        return VideoIncreaseResolutionRequest(video=url)

    assert _checks(bria_asset("bigger", bigger)) == {"video_readable", "video_duration"}
    assert _checks(bria_deferred_asset("keyed", GreenScreenRequest(video=url)).checks) == {
        "video_readable",
        "video_duration",
    }


@pytest.mark.parametrize("storage", ["file", "s3"], indirect=True)
def test_a_transparent_video_cut_out_is_stored_described_and_checked(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    request = VideoRemoveBackgroundRequest(
        video=_clip(emulator), background_color="Transparent", output_container_and_codec="webm_vp9"
    )
    asset = bria_asset("clip_cutout", request, retry_policy=None)
    upscaled = bria_asset(
        "clip_upscaled",
        lambda step: VideoIncreaseResolutionRequest(
            video=step.image.result_url or "", output_container_and_codec="mp4_h264"
        ),
        upstream=asset,
        checks={"video_readable", "video_duration"},
        retry_policy=None,
    )
    result = dg.materialize([asset, upscaled], instance=instance, resources=resources)
    assert result.success
    (m,) = result.asset_materializations_for_node("clip_cutout")
    meta = m.metadata
    assert meta["bria/duration_s"].value == pytest.approx(FRAMES / FPS, abs=0.01)
    assert meta["bria/fps"].value == FPS and meta["bria/frames"].value == FRAMES
    assert meta["bria/codec"].value == "vp9" and meta["bria/resolution"].value == "80x60"
    assert meta["bria/content_type"].value == "video/webm"
    # The preview is the poster frame, with its transparency (PNG).
    assert "(data:image/png;base64," in str(meta["preview"].value)
    checks = _evaluations(result)
    assert {name for name, c in checks.items() if c.passed} == {
        "video_readable",
        "video_duration",
        "video_alpha",
    }
    assert all(c.metadata["checked"].value == 1 for c in checks.values())

    store = resources["bria_storage"].get_store()
    (cut,) = _records(m)
    assert cut.key.endswith(".webm") and cut.expected["source_video"] == request.video
    frames, rate = decode_frames(store.read_bytes(cut.key))
    assert len(frames) == FRAMES and rate == FPS and frames[0].size == SIZE
    assert frames[0].getchannel("A").getextrema()[0] == 0  # the background is transparent

    # The upscale knew its input's duration from the upstream record: no probe needed.
    (up,) = _records(result.asset_materializations_for_node("clip_upscaled")[0])
    assert up.expected == {"duration_s": cut.duration_s}
    assert up.key.endswith(".mp4") and (up.width, up.height) == (160, 120)
    frames, _ = decode_frames(store.read_bytes(up.key))
    assert len(frames) == FRAMES and frames[0].size == (160, 120)


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_video_shorter_than_its_input_fails_the_duration_check(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    request = VideoRemoveBackgroundRequest(video=_clip(emulator), background_color="White")
    result = dg.materialize(
        [bria_asset("white", request, retry_policy=None)], instance=instance, resources=resources
    )
    (record,) = _records(result.asset_materializations_for_node("white")[0])
    store = resources["bria_storage"].get_store()
    verified = verify_stored(store, [record])
    (passed,) = evaluate([record], verified, {"video_duration"})
    assert passed.passed
    longer = record.with_(expected={"duration_s": 2.0})
    (failed,) = evaluate([longer], verified, {"video_duration"})
    assert not failed.passed and "the input lasts 2.000 s" in str(failed.metadata["failures"])
    (alpha,) = evaluate([record.with_(expected={"alpha": True})], verified, {"video_alpha"})
    assert not alpha.passed  # white background: no alpha plane


@pytest.mark.parametrize("storage", ["file"], indirect=True)
def test_a_deferred_video_edit_is_materialized_by_the_sensor(
    instance: dg.DagsterInstance, resources: dict[str, Any], emulator: Any
) -> None:
    keyed = bria_deferred_asset(
        "keyed", GreenScreenRequest(video=_clip(emulator)), retry_policy=None
    )
    sensor = build_bria_result_sensor([keyed], limits=TickLimits(budget_s=10.0))
    ASSETS[sensor.name] = [*keyed]
    assert dg.materialize([keyed.submit], instance=instance, resources=resources).success
    events: list[Any] = []
    cursor = None
    for _ in range(60):
        result = tick(sensor, instance, resources, cursor)
        cursor = result.cursor
        events += result.asset_events or []
        if any(isinstance(e, dg.AssetMaterialization) for e in events):
            break
    (m,) = [e for e in events if isinstance(e, dg.AssetMaterialization)]
    assert m.metadata["bria/codec"].value == "vp9"  # green screen's default preset: webm_vp9
    checks = {e.check_name: e for e in events if isinstance(e, dg.AssetCheckEvaluation)}
    assert set(checks) == {"video_readable", "video_duration"}
    assert all(c.passed for c in checks.values())
    (record,) = _records(m)
    data = resources["bria_storage"].get_store().read_bytes(record.key)
    frames, _ = decode_frames(io.BytesIO(data))
    assert len(frames) == FRAMES and frames[0].size == SIZE
