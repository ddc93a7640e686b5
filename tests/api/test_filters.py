"""FilterSets and ordering over the indexed columns."""

import pytest

from tests.factories import ContentFactory, PostFactory

pytestmark = pytest.mark.django_db


def _ids(response):
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def test_content_tags_contains_and_overlap(admin_api, character):
    a = ContentFactory(character=character, tags=["beach", "sun"])
    b = ContentFactory(character=character, tags=["beach"])
    ContentFactory(character=character, tags=["city"])
    url = "/api/v1/content/"
    assert _ids(admin_api.get(url, {"tags": "beach,sun"})) == {str(a.pk)}
    assert _ids(admin_api.get(url, {"tags_any": "sun,beach"})) == {
        str(a.pk),
        str(b.pk),
    }


def test_content_quality_range_and_ordering(admin_api, character):
    low = ContentFactory(character=character, quality_score="0.10")
    high = ContentFactory(character=character, quality_score="0.90")
    url = "/api/v1/content/"
    assert _ids(admin_api.get(url, {"quality_score_min": "0.5"})) == {str(high.pk)}
    rows = admin_api.get(url, {"ordering": "quality_score"}).json()["results"]
    assert [r["id"] for r in rows] == [str(low.pk), str(high.pk)]
    assert admin_api.get(url, {"content_type": "nope"}).status_code == 400


def test_posts_filter_by_platform_and_hashtags(admin_api, account):
    hit = PostFactory(platform_account=account, hashtags=["ai", "fit"])
    PostFactory(platform_account=account, hashtags=["food"])
    url = "/api/v1/posts/"
    assert _ids(admin_api.get(url, {"hashtags_any": "fit"})) == {str(hit.pk)}
    assert _ids(admin_api.get(url, {"platform": "twitter"})) == set()
    assert len(_ids(admin_api.get(url, {"platform": "instagram"}))) == 2
