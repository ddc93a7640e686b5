"""ComfyUI as a generation backend, against a loopback fake of its API:
workflow templates filled in, the face and LoRA groups, queue position, a
failed node, a server restart mid-job, and video."""

import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from content.generation import process_generation_queue
from content.models import Content, ContentGeneration
from tests import factories as f
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.sdwebui import png

pytestmark = pytest.mark.django_db
S = ContentGeneration.Status


@pytest.fixture
def comfy(settings, media):
    with FakeComfyUI() as server:
        settings.COMFYUI_URL = server.url
        settings.COMFYUI_POLL_SECONDS = 0.01
        settings.COMFYUI_TIMEOUT = 3.0
        settings.GENERATION_BACKEND = "content.comfyui.ComfyUIBackend"
        settings.GENERATION_RETRY_BASE_SECONDS = 1
        yield server


def job_for(media, method="none", *, lora=None, **kwargs):
    character = f.CharacterFactory()
    appearance = character.appearance
    appearance.face_consistency_method = method
    appearance.face_consistency_weight = Decimal("0.55")
    appearance.base_model = "juggernautXL_v9"
    appearance.lora_model_path = lora
    if method != "none":
        (media / "faces").mkdir(exist_ok=True)
        (media / "faces" / "kai.png").write_bytes(png(16, 16))
        appearance.face_reference_image_path = "faces/kai.png"
    appearance.save()
    defaults = {
        "prompt": "rooftop at dusk",
        "batch_size": 2,
        "generation_settings": {
            "width": 64,
            "height": 96,
            "seed": 11,
            "steps": 9,
            "sampler": "DPM++ 2M Karras",
        },
    }
    return f.ContentGenerationFactory(character=character, **{**defaults, **kwargs})


def by_class(graph):
    return {node["class_type"]: (key, node) for key, node in graph.items()}


def test_an_image_job_fills_the_workflow_with_face_and_lora(comfy, media):
    job = job_for(media, "ip-adapter", lora="loras/luna_face_v2.safetensors")
    assert process_generation_queue() == 1

    [graph] = comfy.prompts
    nodes = by_class(graph)
    assert {"IPAdapterUnifiedLoader", "IPAdapter", "LoraLoader"} <= set(nodes)
    assert not {"IPAdapterFaceID", "ApplyInstantID", "InstantIDModelLoader"} & set(
        nodes
    )
    assert nodes["CheckpointLoaderSimple"][1]["inputs"]["ckpt_name"] == (
        "juggernautXL_v9.safetensors"
    )
    lora = nodes["LoraLoader"][1]["inputs"]
    assert lora["lora_name"] == "luna_face_v2.safetensors"
    assert lora["strength_model"] == 1.0
    sampler = nodes["KSampler"][1]["inputs"]
    assert (sampler["seed"], sampler["steps"], sampler["cfg"]) == (11, 9, 7.0)
    assert (sampler["sampler_name"], sampler["scheduler"]) == ("dpmpp_2m", "karras")
    # the face chain: checkpoint -> LoRA -> IP-Adapter -> sampler (the other
    # face groups taken out and their links rewired)
    assert sampler["model"] == [nodes["IPAdapter"][0], 0]
    assert sampler["positive"] == ["6", 0] and sampler["negative"] == ["7", 0]
    ip = nodes["IPAdapter"][1]["inputs"]
    assert ip["weight"] == 0.55
    [uploaded] = comfy.inputs
    assert nodes["LoadImage"][1]["inputs"]["image"] == uploaded
    assert comfy.inputs[uploaded] == (media / "faces" / "kai.png").read_bytes()
    assert graph["6"]["inputs"]["text"].endswith("rooftop at dusk")
    assert graph["7"]["inputs"]["text"] == "blurry, deformed, watermark"

    job.refresh_from_db()
    assert job.status == S.COMPLETED and job.success_count == 2
    rows = Content.objects.filter(pk__in=job.generated_content_ids)
    assert {(c.width, c.height, c.content_type) for c in rows} == {(64, 96, "image")}
    assert all((media / c.file_path).read_bytes().startswith(b"\x89PNG") for c in rows)


def test_without_face_or_lora_their_groups_are_left_out(comfy, media):
    job_for(media)
    process_generation_queue()
    [graph] = comfy.prompts
    nodes = by_class(graph)
    assert "LoraLoader" not in nodes and "LoadImage" not in nodes
    assert nodes["CLIPTextEncode"][1]["inputs"]["clip"] == ["4", 1]
    assert nodes["KSampler"][1]["inputs"]["model"] == ["4", 0]
    assert comfy.inputs == {}


def test_the_queue_position_is_followed_until_the_job_runs(comfy, media, caplog):
    comfy.ahead = 3  # one finishes at each poll: ours waits at 2, then 1
    job = job_for(media)
    with caplog.at_level(logging.INFO, logger="content.comfyui"):
        assert process_generation_queue() == 1
    waits = [
        r.getMessage().rsplit(" ", 1)[1]
        for r in caplog.records
        if "queue position" in r.getMessage()
    ]
    assert waits == ["2", "1"]
    job.refresh_from_db()
    assert job.status == S.COMPLETED


def test_a_job_still_queued_at_the_deadline_is_taken_off_comfyuis_queue(
    comfy, media, settings
):
    settings.COMFYUI_TIMEOUT = 0.3
    comfy.ahead = 10_000
    job = job_for(media)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.PENDING and job.retry_count == 1
    assert "did not finish the job within 0.3 s (still queued at position" in (
        job.error_message
    )
    assert len(comfy.deleted) == 1  # taken off its queue, not left to run
    assert comfy.interrupted == 0


def test_a_failed_node_is_reported_and_retried(comfy, media):
    comfy.mode = "fail_node"
    job = job_for(media, max_retries=1)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.PENDING and job.retry_count == 1
    assert (
        "ComfyUI failed in node 3 (KSampler): torch.OutOfMemoryError: CUDA out of"
        in (job.error_message)
    )
    ContentGeneration.objects.filter(pk=job.pk).update(locked_until=None)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED and job.error_message.startswith("Gave up after 1")
    assert not Content.objects.exists()


def test_a_restart_mid_job_is_noticed_and_the_job_drawn_again(comfy, media):
    comfy.mode = "restart"
    job = job_for(media)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.PENDING and job.retry_count == 1
    assert "ComfyUI restarted while drawing" in job.error_message
    assert "no longer knows the job" in job.error_message
    ContentGeneration.objects.filter(pk=job.pk).update(locked_until=None)
    assert process_generation_queue() == 1
    assert len(comfy.prompts) == 2


def test_missing_custom_nodes_fail_clearly_before_submitting(comfy, media):
    comfy.face_nodes = False
    job = job_for(media, "faceid")
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED and job.retry_count == 0
    assert "ComfyUI has no node IPAdapterFaceID, IPAdapterUnifiedLoaderFaceID" in (
        job.error_message
    )
    assert comfy.prompts == []


def test_an_unknown_checkpoint_fails_clearly(comfy, media):
    job = job_for(media)
    job.character.appearance.base_model = "sdxl-turbo"
    job.character.appearance.save()
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert "ComfyUI has no ckpt_name 'sdxl-turbo'" in job.error_message
    assert comfy.prompts == []


def test_a_workflow_comfyui_refuses_is_a_permanent_failure(
    comfy, media, settings, tmp_path
):
    folder = tmp_path / "workflows"
    folder.mkdir()
    template = json.loads((Path(settings.COMFYUI_WORKFLOWS) / "image.json").read_text())
    template["workflow"]["9"]["inputs"]["images"] = ["99", 0]  # a broken link
    (folder / "image.json").write_text(json.dumps(template))
    settings.COMFYUI_WORKFLOWS = str(folder)
    job = job_for(media)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED and job.retry_count == 0
    assert "ComfyUI refused the workflow: Prompt outputs failed validation; node 9" in (
        job.error_message
    )


def test_video_jobs_go_through_comfyui(comfy, media, settings):
    settings.GENERATION_BACKEND = "content.backends.LocalImageBackend"
    settings.GENERATION_VIDEO_BACKEND = "content.comfyui.ComfyUIBackend"
    character = f.CharacterFactory()
    character.appearance.base_model = "ltx-video-2b-v0.9.5"
    character.appearance.save()
    job = f.ContentGenerationFactory(
        character=character,
        job_type="video",
        prompt="waves at sunrise",
        generation_settings={"frames": 48, "fps": 24, "width": 768, "height": 512},
    )
    assert process_generation_queue() == 1
    [graph] = comfy.prompts
    nodes = by_class(graph)
    assert nodes["EmptyLTXVLatentVideo"][1]["inputs"]["length"] == 48
    assert nodes["SaveWEBM"][1]["inputs"]["fps"] == 24
    job.refresh_from_db()
    [video] = Content.objects.filter(pk__in=job.generated_content_ids)
    assert (video.content_type, video.mime_type) == ("video", "video/webm")
    assert (video.width, video.height, video.duration) == (768, 512, 2)
    assert (media / video.file_path).read_bytes().startswith(b"\x1aE\xdf\xa3")
    assert video.file_path.endswith(".webm")
