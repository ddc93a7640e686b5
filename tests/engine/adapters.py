"""Adapters for tests: each behaves one way, and counts what it was asked."""

from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PlatformAdapter,
    PublishResult,
    RateLimited,
)

SENT: list[str] = []


class FlakyAdapter(PlatformAdapter):
    def publish(self, request):
        SENT.append(request.marker)
        raise AdapterError("platform answered 503")


class RateLimitAdapter(PlatformAdapter):
    def publish(self, request):
        SENT.append(request.marker)
        raise RateLimited("slow down", retry_after=120)


class BadCredentialsAdapter(PlatformAdapter):
    def publish(self, request):
        SENT.append(request.marker)
        raise CredentialsRejected("token revoked")


class BlindTimeoutAdapter(PlatformAdapter):
    """Times out after sending, and cannot tell whether the post exists."""

    def publish(self, request):
        SENT.append(request.marker)
        raise OutcomeUnknown("no answer in 20 s")

    def post_exists(self, request, *, since):
        return None


class SeeingTimeoutAdapter(BlindTimeoutAdapter):
    """Times out after sending, but can look the post up afterwards."""

    def post_exists(self, request, *, since):
        return PublishResult(platform_post_id=f"seen-{request.marker}")


class SameIdAdapter(PlatformAdapter):
    """Answers every publish with the same platform id (a platform that
    deduplicated our request): the second record must not be a second post."""

    def publish(self, request):
        SENT.append(request.marker)
        return PublishResult("same-id-1", "https://example.test/p/1")


class BlindSenderAdapter(PlatformAdapter):
    """Publishes (and counts it) but cannot look a post up afterwards, like
    Telegram's Bot API: an attempt in doubt can only be "outcome unknown"."""

    def publish(self, request):
        SENT.append(request.marker)
        return PublishResult(f"blind-{request.marker}-{len(SENT)}")

    def post_exists(self, request, *, since):
        return None
