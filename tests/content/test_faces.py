"""The appearance's face settings reach the Stable Diffusion web UI: ControlNet
units for IP-Adapter, FaceID and InstantID, the LoRA as a prompt term, the
checkpoint override; what the server lacks is a clear failure."""

import base64
import os
from decimal import Decimal

import pytest

from content.generation import process_generation_queue
from content.models import ContentGeneration
from tests import factories as f
from tests.fakes.sdwebui import FakeWebUI, png

pytestmark = pytest.mark.django_db
S = ContentGeneration.Status


@pytest.fixture
def webui(settings, media):
    with FakeWebUI() as server:
        settings.SD_WEBUI_URL = server.url
        settings.SD_WEBUI_TIMEOUT = 2.0
        settings.GENERATION_BACKEND = "content.backends.StableDiffusionWebUIBackend"
        yield server


@pytest.fixture
def face_file(media):
    (media / "faces").mkdir()
    data = png(32, 32)
    (media / "faces" / "luna.png").write_bytes(data)
    return data


def job_for(method="ip-adapter", *, path="faces/luna.png", url=None, lora=None):
    character = f.CharacterFactory()
    appearance = character.appearance
    appearance.face_consistency_method = method
    appearance.face_consistency_weight = Decimal("0.65")
    appearance.face_reference_image_path = path
    appearance.face_reference_image_url = url
    appearance.lora_model_path = lora
    appearance.base_model = "juggernautXL_v9"
    appearance.save()
    return f.ContentGenerationFactory(character=character, prompt="at the market")


def units_of(payload):
    return payload["alwayson_scripts"]["controlnet"]["args"]


@pytest.mark.parametrize(
    "method,expected",
    [
        (
            "ip-adapter",
            [
                (
                    "ip-adapter_clip_sdxl_plus_vith",
                    "ip-adapter-plus-face_sdxl_vit-h [1f2a3b4c]",
                )
            ],
        ),
        (
            "faceid",
            [("ip-adapter_face_id_plus", "ip-adapter-faceid-plusv2_sdxl [5d6e7f80]")],
        ),
        (
            "instantid",
            [
                ("instant_id_face_embedding", "ip-adapter_instant_id_sdxl [eb2d3ec0]"),
                ("instant_id_face_keypoints", "control_instant_id_sdxl [c5c25a50]"),
            ],
        ),
    ],
)
def test_the_face_goes_as_controlnet_units(webui, face_file, method, expected):
    job = job_for(method, lora="models/Lora/luna_face_v2.safetensors")
    assert process_generation_queue() == 1

    [payload] = webui.drawings
    units = units_of(payload)
    assert [(u["module"], u["model"]) for u in units] == expected
    for unit in units:
        assert unit["enabled"] is True and unit["weight"] == 0.65
        assert base64.b64decode(unit["image"]) == face_file
    # the LoRA as a prompt term, at full weight (the method is not 'lora')
    assert payload["prompt"].endswith(" <lora:luna_face_v2:1>")
    assert payload["override_settings"]["sd_model_checkpoint"].startswith(
        "juggernautXL_v9"
    )
    job.refresh_from_db()
    # the extension's detected maps are not kept as results
    assert job.status == S.COMPLETED and job.success_count == 1
    content = job.character.content.get()
    assert content.generation_settings["face_method"] == method
    assert content.generation_settings["lora"] == "<lora:luna_face_v2:1>"


def test_a_reference_url_is_passed_to_the_web_ui(webui):
    job_for(path=None, url="https://cdn.example.com/luna.png")
    process_generation_queue()
    [unit] = units_of(webui.drawings[0])
    assert unit["image"] == "https://cdn.example.com/luna.png"


def test_the_lora_method_weights_the_lora_with_the_face_weight(webui):
    job_for("lora", path=None, lora="luna_face_v2.safetensors")
    process_generation_queue()
    [payload] = webui.drawings
    assert payload["prompt"].endswith("<lora:luna_face_v2:0.65>")
    assert "alwayson_scripts" not in payload


def test_without_a_reference_the_image_is_drawn_plain(webui):
    job = job_for(path=None)
    process_generation_queue()
    assert "alwayson_scripts" not in webui.drawings[0]
    job.refresh_from_db()
    assert job.status == S.COMPLETED


@pytest.mark.parametrize(
    "setup,message",
    [
        (
            lambda w: setattr(w, "controlnet", False),
            "needs the web UI's ControlNet extension",
        ),
        (
            lambda w: setattr(
                w, "controlnet_models", ["control_v11p_sd15_canny [d14]"]
            ),
            "offers no ControlNet model for the face method IP-Adapter",
        ),
        (
            lambda w: setattr(w, "controlnet_modules", ["none", "canny"]),
            "offers no ControlNet preprocessor for the face method IP-Adapter",
        ),
        (
            lambda w: setattr(w, "loras", []),
            "has no LoRA 'luna_face_v2' (it has: none)",
        ),
        (
            lambda w: setattr(w, "checkpoints", w.checkpoints[1:]),
            "has no checkpoint 'juggernautXL_v9' (it has: realistic-vision-v6",
        ),
    ],
)
@pytest.mark.usefixtures("face_file")
def test_what_the_server_does_not_offer_fails_clearly_before_drawing(
    webui, setup, message
):
    setup(webui)
    job = job_for("ip-adapter", lora="luna_face_v2")
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED and job.retry_count == 0
    assert message in job.error_message
    assert webui.drawings == []  # never a silent plain image


@pytest.mark.parametrize(
    "path,message",
    [
        ("../outside.png", "cannot contain '..'"),
        ("/etc/passwd", "must be relative to MEDIA_ROOT"),
        ("faces/link.png", "leads outside MEDIA_ROOT"),
        ("faces/missing.png", "is missing"),
    ],
)
def test_a_reference_path_outside_media_root_is_never_read(
    webui, media, tmp_path_factory, path, message
):
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    outside.write_bytes(png(8, 8))
    (media / "faces").mkdir()
    os.symlink(outside, media / "faces" / "link.png")
    job = job_for(path=path)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED and job.attempt_count == 0
    assert message in job.error_message
    assert webui.calls == []


@pytest.mark.usefixtures("face_file")
def test_a_web_ui_restart_mid_job_is_retried(webui):
    webui.mode = "restart"
    job = job_for()
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.PENDING and job.retry_count == 1
    assert "restarted mid-job" in job.error_message
    webui.mode = "ok"
    ContentGeneration.objects.filter(pk=job.pk).update(locked_until=None)
    assert process_generation_queue() == 1
    assert len(webui.drawings) == 2 and units_of(webui.drawings[1])
