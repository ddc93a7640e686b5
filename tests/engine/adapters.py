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


class Killed(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs."""


class KilledOnThirdAdapter(BlindSenderAdapter):
    """Sends the first two posts, then the worker dies inside the third call
    (after the platform received it)."""

    def publish(self, request):
        result = super().publish(request)
        if len(SENT) == 3:
            raise Killed()
        return result


class SoftLimitOnThirdAdapter(BlindSenderAdapter):
    """The task's soft time limit fires inside the third call."""

    def publish(self, request):
        from celery.exceptions import SoftTimeLimitExceeded

        if len(SENT) == 2:
            SENT.append(request.marker)
            raise SoftTimeLimitExceeded()
        return super().publish(request)


class SlowAdapter(BlindSenderAdapter):
    """Each call takes 0.4 s and may take up to 1 s."""

    call_timeout = 1.0

    def publish(self, request):
        import time

        time.sleep(0.4)
        return super().publish(request)


class RaisingAdapter(BlindSenderAdapter):
    """A bug in the adapter after the request went out."""

    def publish(self, request):
        SENT.append(request.marker)
        raise ValueError("unexpected answer shape")


class CredentialsReadingAdapter(BlindSenderAdapter):
    """Reads its credentials on every call, as real adapters do."""

    def publish(self, request):
        assert self.account.auth_data is not None
        return super().publish(request)


JOURNAL: list[tuple[str, int, bool]] = []


class JournalReadingAdapter(BlindSenderAdapter):
    """Reads its post's journal entry as the call starts: (marker, the
    row's attempt_count, whether attempt_started_at is set)."""

    def publish(self, request):
        from platforms.models import ScheduledPost

        row = ScheduledPost.objects.get(pk=request.marker)
        JOURNAL.append(
            (request.marker, row.attempt_count, row.attempt_started_at is not None)
        )
        return super().publish(request)


LANES: set[str] = set()


class LaneSenderAdapter(BlindSenderAdapter):
    """Publishes, noting which thread (lane) made the call; a call takes a
    moment, as a platform's answer does."""

    def publish(self, request):
        import threading
        import time

        LANES.add(threading.current_thread().name)
        time.sleep(0.005)
        return super().publish(request)
