import pytest

# Staff users and their logged-in clients, as the admin tests have them.
from tests.admin.conftest import (  # noqa: F401
    administrator,
    administrator_client,
    analyst,
    analyst_client,
)
from tests.fakes.chat import FakeChatServer


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def chat(settings):
    """The HTTP text backend against a loopback OpenAI-compatible server."""
    with FakeChatServer() as server:
        settings.TEXT_BACKEND = "content.text_backends.ChatCompletionsBackend"
        settings.TEXT_API_BASE_URL = f"{server.url}/v1"
        settings.TEXT_API_KEY = "sk-test-key-for-the-fake"
        settings.TEXT_MODEL = "gpt-test"
        settings.TEXT_TIMEOUT = 1.0
        yield server


@pytest.fixture(autouse=True)
def _no_moderation(settings):
    """Moderation off unless a test turns it on (the default follows DEBUG)."""
    settings.MODERATION_BACKEND = ""


@pytest.fixture
def word_list(settings):
    settings.MODERATION_BACKEND = "content.moderation.WordListModerator"
    settings.MODERATION_WORDS = ["forbidden fruit", "nudes"]
