"""Media links through object storage (MEDIA_LINK_BUCKET): a private copy in
the bucket and a presigned GET, against moto's S3 server on loopback (the S3
REST API over real HTTP)."""

import datetime as dt
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import environ
import pytest
from moto.server import ThreadedMotoServer

from config.object_storage import media_link_storage
from platforms import media_links
from platforms.models import PlatformAccount
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes.graph import TOKEN, FakeGraph

BUCKET = "ainf-media-links"
SECRET = "s3cr3t-key-that-must-stay-hidden"


@pytest.fixture
def s3(caplog):
    caplog.set_level(logging.WARNING, logger="werkzeug")  # moto's access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its buckets per process: each test starts with none
    urllib.request.urlopen(
        urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    )
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def bucket(s3, settings, tmp_path, monkeypatch):
    """settings as an operator's environment gives them: STORAGES built by
    config.object_storage from MEDIA_LINK_* variables."""
    for name, value in {
        "MEDIA_LINK_BUCKET": BUCKET,
        "MEDIA_LINK_S3_ENDPOINT_URL": s3,
        "MEDIA_LINK_S3_REGION": "eu-west-1",
        "MEDIA_LINK_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "MEDIA_LINK_S3_SECRET_ACCESS_KEY": SECRET,
        "MEDIA_LINK_S3_ADDRESSING_STYLE": "path",
    }.items():
        monkeypatch.setenv(name, value)
    settings.MEDIA_LINK_MAX_AGE = 3600
    settings.STORAGES = {
        **settings.STORAGES,
        "media_links": media_link_storage(environ.Env(), max_age=3600),
    }
    settings.MEDIA_PUBLIC_BASE_URL = ""  # not needed with a bucket
    root = tmp_path / "media"
    (root / "content").mkdir(parents=True)
    (root / "content" / "clip.mp4").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "secret.txt").write_text("not for the platforms")
    settings.MEDIA_ROOT = root
    client = boto3.client(
        "s3",
        endpoint_url=s3,
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=SECRET,
    )
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return client


def bucket_options(settings, **changes):
    """The media-link storage with some options changed (a wrong bucket, a
    closed port), as an operator's mistake or an outage would have them."""
    entry = settings.STORAGES["media_links"]
    settings.STORAGES = {
        **settings.STORAGES,
        "media_links": {**entry, "OPTIONS": {**entry["OPTIONS"], **changes}},
    }


def objects(client):
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: item for item in listed}


def get(url, **headers):
    """What a platform's fetch of the link gets: (status, body, content type)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), None


def test_a_link_is_a_presigned_get_of_a_private_copy(bucket, s3):
    url = media_links.signed_url("content/clip.mp4")
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    assert url.startswith(f"{s3}/{BUCKET}/media-links/")
    assert parts.path.endswith("/clip.mp4")
    # nothing of the library's layout reaches the bucket
    assert "content" not in parts.path
    assert query["X-Amz-Expires"] == ["3600"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert SECRET not in url

    assert get(url) == (200, bytes(range(256)) * 4, "video/mp4")
    status, body, _ = get(url, Range="bytes=10-19")
    assert (status, body) == (206, bytes(range(10, 20)))
    # the object itself is private: without the signature, no answer
    status, _, _ = get(f"{s3}{parts.path}")
    assert status == 403


def test_each_version_of_a_file_is_copied_once(bucket):
    first = media_links.signed_url("content/clip.mp4")
    again = media_links.signed_url("content/clip.mp4")
    assert urllib.parse.urlsplit(first).path == urllib.parse.urlsplit(again).path
    assert len(objects(bucket)) == 1

    # the file replaced in place: a new key, so no platform gets the old one
    path = media_links.resolve_media("content/clip.mp4")
    path.write_bytes(b"a new cut")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    newer = media_links.signed_url("content/clip.mp4")
    assert urllib.parse.urlsplit(newer).path != urllib.parse.urlsplit(first).path
    assert get(newer)[1] == b"a new cut" and get(first)[1] == bytes(range(256)) * 4
    assert len(objects(bucket)) == 2


def test_a_copy_older_than_its_reuse_time_is_put_again(bucket, monkeypatch):
    """So the bucket's expiry rule never removes an object a live link names."""
    media_links.signed_url("content/clip.mp4")
    (key,) = objects(bucket)
    put = objects(bucket)[key]["LastModified"]
    media_links.signed_url("content/clip.mp4")
    assert objects(bucket)[key]["LastModified"] == put  # reused, not put again
    monkeypatch.setattr(media_links, "REUSE_FOR", dt.timedelta(seconds=-1))
    time.sleep(1.1)  # S3's LastModified counts whole seconds
    media_links.signed_url("content/clip.mp4")
    assert objects(bucket)[key]["LastModified"] > put
    assert list(objects(bucket)) == [key]


def test_an_image_other_than_jpeg_is_copied_as_jpeg(bucket, settings):
    (settings.MEDIA_ROOT / "content" / "look.png").write_bytes(h.png_bytes(64, 80))
    url = media_links.signed_url("content/look.png", fmt="jpeg")
    assert urllib.parse.urlsplit(url).path.endswith("/look.jpg")
    status, body, content_type = get(url)
    assert (status, content_type, body[:2]) == (200, "image/jpeg", b"\xff\xd8")


def test_no_path_outside_media_root_reaches_the_bucket(bucket, settings):
    root = settings.MEDIA_ROOT
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url("../secret.txt")
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url(str(root.parent / "secret.txt"))
    os.symlink(root.parent / "secret.txt", root / "content" / "link.txt")
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url("content/link.txt")
    with pytest.raises(media_links.MediaLinkError, match="does not exist"):
        media_links.signed_url("content/gone.mp4")
    assert objects(bucket) == {}


def test_a_bucket_that_refuses_or_is_gone_is_worth_a_retry(bucket, settings, s3):
    bucket_options(settings, bucket_name="no-such-bucket")
    with pytest.raises(media_links.MediaLinkUnavailable) as refused:
        media_links.signed_url("content/clip.mp4")
    assert "NoSuchBucket" in refused.value.message or "404" in refused.value.message
    assert SECRET not in refused.value.message


@pytest.fixture
def graph(settings):
    with FakeGraph() as server:
        settings.INSTAGRAM_API_BASE = server.url
        settings.GRAPH_API_BASE = server.url
        settings.INSTAGRAM_POLL_INTERVAL = 0.01
        settings.PLATFORM_ADAPTERS = {
            "instagram": "platforms.adapters.instagram.InstagramAdapter"
        }
        yield server


@pytest.fixture
def image_post(db, due_post, settings):
    account = f.PlatformAccountFactory(
        platform="instagram",
        account_id="17841400000000001",
        account_username="luna_ai",
        auth_data={"access_token": TOKEN},
    )
    content = h.media(account.character, settings.MEDIA_ROOT, "look.png")
    return due_post(
        platform_account=account, content=content, caption="Golden hour", hashtags=[]
    )


def test_instagram_fetches_the_post_from_the_bucket(bucket, graph, image_post, s3):
    assert h.publish(now=later()) == 1
    image_post.refresh_from_db()
    assert image_post.status == "published"
    assert image_post.post.platform_post_id
    (create,) = [c for c in graph.calls if c["path"].endswith("/media")]
    url = create["params"]["image_url"]
    assert url.startswith(f"{s3}/{BUCKET}/")
    status, body, content_type = get(url)
    assert (status, content_type, body[:2]) == (200, "image/jpeg", b"\xff\xd8")


def test_a_post_waits_while_the_bucket_is_down(bucket, graph, image_post, settings):
    # the storage answers nothing at all: its port is closed
    bucket_options(settings, endpoint_url="http://127.0.0.1:9")
    h.publish(now=later())
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("scheduled", 1)
    assert "Object storage did not answer" in image_post.error_message
    assert SECRET not in image_post.error_message
    # nothing reached Instagram, and the account is not blamed
    assert not [c for c in graph.calls if c["path"].endswith("/media")]
    account = PlatformAccount.objects.get(pk=image_post.platform_account_id)
    assert account.connection_status == "connected"


def _checks():
    from config.checks import check_media_links

    return [(m.id, m.msg) for m in check_media_links()]


def test_the_deploy_check_proves_the_bucket_takes_and_gives_back(bucket, settings):
    assert _checks() == []
    assert ".deploy-check" in {key.rsplit("/", 1)[-1] for key in objects(bucket)}

    bucket_options(settings, bucket_name="no-such-bucket")
    ((code, message),) = _checks()
    assert code == "config.E004" and "NoSuchBucket" in message
    assert SECRET not in message

    bucket_options(settings, bucket_name=BUCKET, endpoint_url="http://127.0.0.1:9")
    ((code, message),) = _checks()
    assert code == "config.W002" and "did not answer" in message


def test_the_deploy_check_warns_when_meta_cannot_fetch_media(settings):
    settings.STORAGES = {
        k: v for k, v in settings.STORAGES.items() if k != "media_links"
    }
    settings.MEDIA_PUBLIC_BASE_URL = ""
    settings.PLATFORM_ADAPTERS = {
        "instagram": "platforms.adapters.instagram.InstagramAdapter"
    }
    ((code, message),) = _checks()
    assert code == "config.W001" and message.startswith(
        "Instagram fetches media by URL"
    )
    settings.MEDIA_PUBLIC_BASE_URL = h.PUBLIC_BASE
    assert _checks() == []
    # in dry run nothing is fetched
    settings.MEDIA_PUBLIC_BASE_URL = ""
    settings.PLATFORM_ADAPTERS = {
        "instagram": "platforms.adapters.dryrun.DryRunAdapter"
    }
    assert _checks() == []
