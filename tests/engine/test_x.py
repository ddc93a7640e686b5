"""The X adapter against a loopback fake of the X API v2."""

import random

import pytest
from django.utils import timezone
from twitter_text import parse_tweet

from platforms.adapters import (
    PermanentError,
    PublishRequest,
    RateLimited,
    get_adapter,
)
from platforms.adapters.x import weighted_length
from platforms.models import PlatformAccount
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes.x import (
    REFRESHED_TOKEN,
    TOKEN,
    USER_ID,
    FakeX,
    invalid_request,
    problem,
)

pytestmark = pytest.mark.django_db

# settings.PLATFORM_TOKEN_REFRESHER in these tests: the accounts it renewed
REFRESHED: list[str] = []


def refresh_to_new_x_token(account) -> bool:
    REFRESHED.append(str(account.pk))
    return h.refresher_to(REFRESHED_TOKEN)(account)


@pytest.fixture
def x(settings, tmp_path):
    with FakeX() as server:
        settings.X_API_BASE = server.url
        settings.MEDIA_ROOT = tmp_path
        settings.PLATFORM_ADAPTERS = {"twitter": "platforms.adapters.x.XAdapter"}
        yield server


@pytest.fixture
def x_account(db):
    return f.PlatformAccountFactory(
        platform="twitter",
        account_id=USER_ID,
        account_username="luna_ai",
        auth_data={"access_token": TOKEN, "refresh_token": "r"},
    )


def test_a_text_post_goes_out_with_post_tweets(x, due_post, x_account):
    sp = due_post(
        platform_account=x_account, content=None, caption="gm", post_type="tweet"
    )
    assert h.publish(now=later()) == 1
    (tweet,) = x.tweets.values()
    assert tweet["text"] == "gm\n\n#ai"
    sp.refresh_from_db()
    assert sp.post.platform_post_id == tweet["id"]
    assert sp.post.platform_post_url == f"https://x.com/luna_ai/status/{tweet['id']}"


def test_an_image_is_uploaded_in_one_request(x, due_post, x_account, settings):
    image = h.media(x_account.character, settings.MEDIA_ROOT, "i.png")
    due_post(platform_account=x_account, content=image, caption="pic")
    assert h.publish(now=later()) == 1
    (upload,) = [c for c in x.calls if c["path"] == "/2/media/upload"]
    assert upload["fields"]["media_category"] == "tweet_image"
    assert upload["files"]["media"][:4] == b"\x89PNG"
    (tweet,) = x.tweets.values()
    assert tweet["media_ids"] == list(x.media)


def test_a_video_goes_through_init_append_finalize_and_status(
    x, due_post, x_account, settings
):
    settings.X_UPLOAD_CHUNK_BYTES = 50_000
    video = h.media(x_account.character, settings.MEDIA_ROOT, "v.mp4", kind="video")
    due_post(platform_account=x_account, content=video, caption="clip")
    assert h.publish(now=later()) == 1
    commands = [
        c["fields"].get("command") or c["params"].get("command")
        for c in x.calls
        if c["path"] == "/2/media/upload"
    ]
    size = (settings.MEDIA_ROOT / "content" / "v.mp4").stat().st_size
    chunks = -(-size // 50_000)
    assert commands == ["INIT", *["APPEND"] * chunks, "FINALIZE", "STATUS", "STATUS"]
    (item,) = x.media.values()
    assert item["category"] == "tweet_video" and item["state"] == "succeeded"
    assert (
        b"".join(item["chunks"][i] for i in range(chunks))
        == (settings.MEDIA_ROOT / "content" / "v.mp4").read_bytes()
    )


def test_failed_video_processing_fails_the_post(x, due_post, x_account, settings):
    x.processing = ["pending", "failed"]
    video = h.media(x_account.character, settings.MEDIA_ROOT, "v.mp4", kind="video")
    sp = due_post(platform_account=x_account, content=video, caption="clip")
    h.publish(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed"
    assert "Unsupported video format" in sp.error_message
    assert not x.tweets


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        (
            invalid_request(
                "Your media IDs are invalid.", **{"media.media_ids": ["1"]}
            ),
            # the reason, not the invalid-request problem's generic detail
            "Your media IDs are invalid.",
        ),
        (
            problem(403, "Forbidden", "You are not permitted to perform this action."),
            "You are not permitted to perform this action.",
        ),
    ],
    ids=["400 invalid request", "403 forbidden"],
)
def test_a_post_x_refuses_fails_for_good_with_xs_words(
    x, due_post, x_account, refusal, said
):
    """A 4xx problem body X sends back for the post itself (not the token,
    not a limit) fails the post at once with X's message: no retry used, the
    account stays connected, and the post is not sent again."""
    x.refuse_posts = refusal
    sp = due_post(platform_account=x_account, content=None, caption="refused")
    assert h.publish(now=later()) == 0
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("failed", 0)
    assert sp.error_message.startswith("X refused post: ")
    assert said in sp.error_message
    assert TOKEN not in sp.error_message
    assert not x.tweets
    x_account.refresh_from_db()
    assert x_account.connection_status == "connected" and x_account.is_connected
    h.publish(now=later(7200))
    posts = [c for c in x.calls if (c["method"], c["path"]) == ("POST", "/2/tweets")]
    assert len(posts) == 1


def test_429_waits_until_the_reset(x, due_post, x_account):
    x.mode = "429"
    sp = due_post(platform_account=x_account, content=None, caption="later")
    h.publish(now=later())
    x_account.refresh_from_db()
    wait = (x_account.rate_limit_reset_at - timezone.now()).total_seconds()
    assert x_account.connection_status == "rate_limited" and 35 < wait <= 43
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 0)


def test_5xx_retries_and_401_parks_the_account(x, due_post, x_account):
    x.mode = "500"
    sp = due_post(platform_account=x_account, content=None, caption="a")
    h.publish(now=later())
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 1)
    x.mode = "401"
    h.publish(now=later(3600))
    x_account.refresh_from_db()
    assert x_account.connection_status == "error"
    assert TOKEN not in (sp.error_message or "")


def test_a_timeout_is_reconciled_from_the_users_recent_posts(
    x, due_post, x_account, settings
):
    settings.PLATFORM_READ_TIMEOUT = 0.3
    x.mode = "slow"
    x.slow_seconds = 1.0
    x.slow_when = lambda call: call["path"] == "/2/tweets" and call["method"] == "POST"
    sp = due_post(platform_account=x_account, content=None, caption="exactly once")
    assert h.publish(now=later()) == 1
    (tweet,) = x.tweets.values()
    sp.refresh_from_db()
    assert sp.status == "published" and sp.post.platform_post_id == tweet["id"]


def test_a_duplicate_refusal_resolves_to_the_earlier_post(x, x_account):
    adapter = get_adapter(x_account)
    request = PublishRequest(marker="m", caption="same words")
    first = adapter.publish(request)
    again = get_adapter(x_account).publish(request)
    assert again.platform_post_id == first.platform_post_id and len(x.tweets) == 1


def test_a_deleted_tweets_words_can_be_posted_again(x, x_account):
    adapter = get_adapter(x_account)
    first = adapter.publish(PublishRequest(marker="m", caption="same words"))
    adapter.delete(first.platform_post_id)
    again = adapter.publish(PublishRequest(marker="n", caption="same words"))
    assert again.platform_post_id != first.platform_post_id
    assert list(x.tweets) == [again.platform_post_id]


def test_weighted_length_is_checked_before_sending(x, x_account):
    adapter = get_adapter(x_account)
    with pytest.raises(PermanentError, match="280 weighted characters"):
        adapter.publish(PublishRequest(marker="m", caption="日本語" * 50))
    assert x.calls == []


# pieces of captions: words, punctuation, line endings, hashtags, mentions,
# and what twitter-text takes for a URL (with and without a protocol) or not
PIECES = (
    "Golden",
    "hour",
    " ",
    "  ",
    ".",
    ". ",
    ",",
    "!",
    "?",
    "\n",
    "\r\n",
    "\r",
    "#sunset",
    "#",
    "@luna_ai",
    "0",
    "42",
    "*",
    "https://example.com/a?b=1",
    "http://t.co/xyz",
    "example.com",
    "www.example.org/path",
    "a.co",
    "x.y",
    "localhost:8000",
    "mailto:me",
    "ftp://files.example",
    "foo@bar.com",
    "...",
    "e.g.",
    "1.5",
    "-",
    "/",
    ":",
    "'",
    '"',
    "(",
    ")",
    "&",
    "%",
    "~",
    "\t",
)


def test_the_weighted_length_of_ascii_text_is_twitter_texts():
    """The fast count of ASCII text (no emoji expression) gives parse_tweet's
    number, URLs at 23 each included."""
    rnd = random.Random(14)
    texts = [
        "".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 60)))
        for _ in range(3000)
    ]
    texts += ["", "a" * 281, "Bench scheduled post 1234\n\n#bench #tag14"]
    for text in texts:
        assert weighted_length(text) == parse_tweet(text).weightedLength, text


def test_other_text_is_counted_by_twitter_text():
    for text in ("日本語" * 3, "sunset 🌅 at x.co", "1\ufe0f\u20e3 caf\u0065\u0301"):
        assert weighted_length(text) == parse_tweet(text).weightedLength


def test_short_ascii_text_full_of_links_is_still_refused(x, x_account):
    """13 links of 4 characters count 23 each: over 280, though the text
    has 64 characters."""
    adapter = get_adapter(x_account)
    with pytest.raises(PermanentError, match="make 311"):
        adapter.publish(PublishRequest(marker="m", caption=" ".join(["a.co"] * 13)))
    assert x.calls == []


def test_metrics_stats_and_every_engagement_action(x, x_account):
    adapter = get_adapter(x_account)
    posted = adapter.publish(PublishRequest(marker="m", caption="numbers"))
    x.tweets[posted.platform_post_id]["metrics"].update(
        like_count=9,
        reply_count=2,
        retweet_count=3,
        quote_count=1,
        impression_count=500,
    )
    assert adapter.fetch_post_metrics([posted.platform_post_id, "404"]) == {
        posted.platform_post_id: {"likes": 9, "comments": 2, "shares": 4, "views": 500}
    }
    assert adapter.fetch_stats()["follower_count"] == 4321
    target = posted.platform_post_id
    for kind, extra in [
        ("like", {}),
        ("share", {}),
        ("reply", {"comment_text": "agreed"}),
        ("follow", {"target_id": "42"}),
        ("unfollow", {"target_id": "42"}),
        ("message", {"target_id": "42", "message_text": "hi"}),
    ]:
        action = f.EngagementActionFactory(
            platform_account=x_account,
            action_type=kind,
            **({"target_id": target} | extra),
        )
        assert adapter.perform_engagement(action)
    assert x.likes == {target} and x.following == set()
    reply = [t for t in x.tweets.values() if t["reply_to"] == target]
    assert len(reply) == 1
    adapter.delete(target)
    assert target not in x.tweets
    assert PlatformAccount.objects.get(pk=x_account.pk).connection_status == "connected"


def test_the_reset_header_is_seconds_from_now(x, x_account):
    x.mode = "429"
    x.reset_in = 300
    with pytest.raises(RateLimited) as caught:
        get_adapter(x_account).fetch_stats()
    assert 298 <= caught.value.retry_after <= 300


def test_an_expired_token_is_refreshed_once_and_the_post_goes_out(
    x, due_post, x_account, settings
):
    settings.PLATFORM_TOKEN_REFRESHER = "tests.engine.test_x.refresh_to_new_x_token"
    x.expired_tokens.add(TOKEN)
    sp = due_post(platform_account=x_account, content=None, caption="fresh token")
    REFRESHED.clear()
    assert h.publish(now=later()) == 1
    assert [str(x_account.pk)] == REFRESHED
    posts = [
        (c["token"], c["json"]["text"])
        for c in x.calls
        if (c["method"], c["path"]) == ("POST", "/2/tweets")
    ]
    text = "fresh token\n\n#ai"
    assert posts == [(TOKEN, text), (REFRESHED_TOKEN, text)]
    (tweet,) = x.tweets.values()
    sp.refresh_from_db()
    assert sp.status == "published" and sp.post.platform_post_id == tweet["id"]
    x_account.refresh_from_db()
    assert x_account.connection_status == "connected"


def test_a_token_refused_again_after_the_refresh_parks_the_account(
    x, due_post, x_account, settings
):
    settings.PLATFORM_TOKEN_REFRESHER = "tests.engine.test_x.refresh_to_new_x_token"
    x.mode = "401"  # revoked: the refreshed token is refused too
    sp = due_post(platform_account=x_account, content=None, caption="revoked")
    REFRESHED.clear()
    h.publish(now=later())
    assert [str(x_account.pk)] == REFRESHED
    assert [c["token"] for c in x.calls] == [TOKEN, REFRESHED_TOKEN]
    assert not x.tweets
    x_account.refresh_from_db()
    assert x_account.connection_status == "error"
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 0)
    for token in (TOKEN, REFRESHED_TOKEN):
        assert token not in (sp.error_message or "")


def test_metrics_of_more_posts_than_one_lookup_go_in_batches_of_100(x, x_account):
    adapter = get_adapter(x_account)
    ids = [
        adapter.publish(
            PublishRequest(marker=str(i), caption=f"post {i}")
        ).platform_post_id
        for i in range(230)
    ]
    for n, tweet_id in enumerate(ids):
        x.tweets[tweet_id]["metrics"].update(like_count=n, impression_count=10 * n)
    x.calls.clear()
    metrics = adapter.fetch_post_metrics(ids)
    lookups = [c["params"]["ids"].split(",") for c in x.calls]
    assert [len(batch) for batch in lookups] == [100, 100, 30]
    assert [i for batch in lookups for i in batch] == ids
    assert all(c["path"] == "/2/tweets" and c["method"] == "GET" for c in x.calls)
    assert len(metrics) == 230
    assert metrics[ids[229]] == {
        "likes": 229,
        "comments": 0,
        "shares": 0,
        "views": 2290,
    }
    assert all(metrics[i]["likes"] == n for n, i in enumerate(ids))
