import pytest


@pytest.fixture
def loopback_webhooks(settings):
    """Webhooks may go to loopback receivers (production refuses them)."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOK_READ_TIMEOUT = 2.0
    return settings
