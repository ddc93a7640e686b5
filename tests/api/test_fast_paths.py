"""The API's fast paths answer exactly what the serializers and DRF's JSON
renderer would: list pages from values() rows, JSON written by orjson."""

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db.models.sql.compiler import SQLCompiler
from rest_framework.renderers import JSONRenderer

from characters.api.serializers import CharacterSerializer
from characters.models import Character
from characters.selectors import characters_with_stats
from characters.services import character_soft_delete
from config.api_fast import build_plan
from config.api_renderers import ORJSONRenderer
from content.api.serializers import ContentSerializer
from content.models import Content
from platforms.api.serializers import PostSerializer, ScheduledPostSerializer
from platforms.models import Post
from tests.factories import (
    BareCharacterFactory,
    CharacterFactory,
    ContentFactory,
    PostFactory,
)


def _plain(data):
    return json.loads(json.dumps(data, default=str))


def _compiled_queries(monkeypatch) -> list:
    """The queries Django compiles from now on (appended as they are)."""
    compiled: list = []
    real_as_sql = SQLCompiler.as_sql
    monkeypatch.setattr(
        SQLCompiler,
        "as_sql",
        lambda self, *a, **k: compiled.append(self.query) or real_as_sql(self, *a, **k),
    )
    return compiled


@pytest.mark.django_db
def test_the_posts_page_is_what_the_serializer_says(admin_api, character):
    PostFactory.create_batch(3, platform_account__character=character)
    url = f"/api/v1/posts/?character={character.pk}&ordering=-published_at"
    page = admin_api.get(url).json()
    rows = Post.objects.filter(character=character).order_by("-published_at")
    assert page["results"] == _plain(PostSerializer(rows, many=True).data)
    assert len(page["results"]) == 3


@pytest.mark.django_db
def test_the_content_page_is_what_the_serializer_says(admin_api, character):
    ContentFactory.create_batch(2, character=character)
    page = admin_api.get(f"/api/v1/content/?character={character.pk}").json()
    rows = Content.objects.filter(character=character).order_by("-created_at")
    assert page["count"] == 2
    assert page["results"] == _plain(ContentSerializer(rows, many=True).data)


@pytest.mark.django_db
def test_the_character_page_nests_profiles_and_a_missing_one_is_null(admin_api):
    CharacterFactory(name="With profiles")
    BareCharacterFactory(name="Without profiles")
    page = admin_api.get("/api/v1/characters/").json()
    expected = CharacterSerializer(
        characters_with_stats().order_by("-created_at"), many=True
    ).data
    assert page["results"] == _plain(expected)
    by_name = {c["name"]: c for c in page["results"]}
    assert "flirtatiousness_level" in by_name["With profiles"]["personality"]
    assert by_name["Without profiles"]["personality"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_a_plan_writes_every_datetime_in_the_current_zone(zone):
    """The zone is looked up once per page and handed down to nested rows."""
    from django.utils import timezone

    CharacterFactory(name="Zoned")
    rows = characters_with_stats().order_by("-created_at")
    plan = build_plan(CharacterSerializer())
    assert plan is not None and any(zoned for *_, zoned in plan.simple)
    nested = {name: p for name, _, p in plan.nested}["personality"]
    assert any(zoned for *_, zoned in nested.simple)  # its own timestamps
    with timezone.override(zone):
        answer = plan.render_all(rows.values(*plan.sources))
        expected = _plain(CharacterSerializer(rows, many=True).data)
    assert _plain(answer) == expected
    suffix = "Z" if zone == "UTC" else ("-05:00", "-04:00")
    assert answer[0]["created_at"].endswith(suffix)
    assert answer[0]["personality"]["updated_at"].endswith(suffix)


@pytest.mark.django_db
def test_a_pages_count_leaves_out_the_nested_profiles_joins(admin_api):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    CharacterFactory.create_batch(3)
    BareCharacterFactory()
    gone = CharacterFactory()
    character_soft_delete(character=gone, actor=None)
    with CaptureQueriesContext(connection) as queries:
        page = admin_api.get("/api/v1/characters/?page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2
    (count,) = [
        q["sql"] for q in queries if q["sql"].upper().startswith("SELECT COUNT")
    ]
    assert "JOIN" not in count and 'FROM "characters"' in count


@pytest.mark.django_db
def test_the_character_detail_is_what_the_serializer_says(admin_api, character):
    answer = admin_api.get(f"/api/v1/characters/{character.pk}/").json()
    expected = CharacterSerializer(characters_with_stats().get(pk=character.pk)).data
    assert answer == _plain(expected)
    assert admin_api.get(f"/api/v1/characters/{uuid.uuid4()}/").status_code == 404


@pytest.mark.django_db
def test_the_character_detail_is_read_without_compiling_its_query_again(
    admin_api, monkeypatch
):
    bare = BareCharacterFactory(name="Without profiles")
    gone = CharacterFactory(name="Deleted")
    character_soft_delete(character=gone, actor=None)
    admin_api.get(f"/api/v1/characters/{bare.pk}/")  # the first compiles it
    cache.clear()
    compiled = _compiled_queries(monkeypatch)
    answer = admin_api.get(f"/api/v1/characters/{bare.pk}/").json()
    # the same SQL, sent with this character's id (the token's check, its
    # cache emptied above, still goes through the ORM)
    assert [q for q in compiled if q.model is Character] == []
    expected = CharacterSerializer(characters_with_stats().get(pk=bare.pk)).data
    assert answer == _plain(expected) and answer["personality"] is None
    # a deleted character and a malformed id are not found, as before
    assert admin_api.get(f"/api/v1/characters/{gone.pk}/").status_code == 404
    assert admin_api.get("/api/v1/characters/not-a-uuid/").status_code == 404


def test_a_serializer_with_its_own_representation_takes_the_ordinary_path():
    assert build_plan(ScheduledPostSerializer()) is None
    assert build_plan(PostSerializer()) is not None


def test_orjson_writes_what_drf_writes():
    data = {
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        "day": dt.date(2026, 1, 2),
        "amount": Decimal("12.50"),
        "text": "caf\u00e9 \u2028 line \u2029 para \U0001f600",
        "nested": [{"n": 1, "f": 1.5, "none": None, "yes": True}],
        7: "an int key",
    }
    assert ORJSONRenderer().render(data) == JSONRenderer().render(data)
    assert ORJSONRenderer().render(None) == b""


@pytest.mark.django_db
def test_the_character_detail_answers_304_to_its_etag_until_the_character_changes(
    admin_api, character
):
    url = f"/api/v1/characters/{character.pk}/"
    first = admin_api.get(url)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    again = admin_api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag

    admin_api.patch(url, {"bio": "A new bio."}, format="json")
    changed = admin_api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.json()["bio"] == "A new bio."
    assert changed.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("field", "values"),
    [
        (
            "datetime",
            [
                dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC),
                dt.datetime(
                    2026, 7, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))
                ),
                dt.datetime(2026, 1, 2, 3, 4, 5),  # naive: DRF's own way
                "2026-01-02T03:04:05Z",
            ],
        ),
        ("char", ["plain", "", 12, Decimal("1.5")]),
        ("integer", [0, 7, True, Decimal("3"), "4"]),
        ("uuid", [uuid.UUID(int=5)]),
        ("choice", ["draft", "", "unknown", Post.Status.PUBLISHED]),
        (
            "decimal",
            [
                Decimal("12.50"),
                Decimal("-0.00"),
                Decimal("0.5"),  # other places: DRF's quantize
                Decimal("1.005"),  # rounded as DRF rounds
                Decimal("123456789012.34"),  # over max_digits: DRF's error
                7,
                2.5,
                "3.10",
            ],
        ),
        ("date", [dt.date(2026, 1, 2), "2026-01-02", None]),
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
def test_the_shortcut_converters_answer_what_the_fields_answer(field, values, zone):
    from django.utils import timezone
    from rest_framework import serializers

    from config.api_fast import converter

    fields = {
        "decimal": serializers.DecimalField(max_digits=12, decimal_places=2),
        "date": serializers.DateField(),
        "datetime": serializers.DateTimeField(),
        "char": serializers.CharField(),
        "integer": serializers.IntegerField(),
        "uuid": serializers.UUIDField(),
        "choice": serializers.ChoiceField(choices=Post.Status.choices),
    }
    f = fields[field]
    convert = converter(f)
    assert convert is not f.to_representation  # a shortcut is taken
    with timezone.override(zone):
        for value in values:
            try:
                expected = f.to_representation(value)
            except Exception as exc:  # the field's own error, raised the same
                with pytest.raises(type(exc)):
                    convert(value)
            else:
                assert convert(value) == expected, value


@pytest.mark.django_db
def test_the_series_is_what_the_serializer_says(admin_api, character):
    from analytics.api.serializers import SeriesPointSerializer
    from analytics.models import Analytics
    from analytics.selectors import metric_series
    from tests.factories import AnalyticsFactory

    for day in (1, 2, 9):
        AnalyticsFactory(
            character=character,
            platform_account=None,
            platform=None,
            metric_type="reach",
            metric_date=dt.date(2026, 3, 1) + dt.timedelta(days=day),
            metric_value=Decimal("1.25") * day,
        )
    url = f"/api/v1/analytics/series/?character={character.pk}&metric_type=reach"
    answer = admin_api.get(url).json()
    rows = metric_series(Analytics.objects.filter(character=character), bucket="day")
    assert answer == _plain(SeriesPointSerializer(rows, many=True).data)
    assert len(answer) == 3


@pytest.mark.django_db
def test_the_series_runs_its_compiled_sql_with_each_querys_values(
    admin_api, character, monkeypatch
):
    from analytics.api.serializers import SeriesPointSerializer
    from analytics.models import Analytics
    from analytics.selectors import metric_series
    from tests.factories import AnalyticsFactory, PlatformAccountFactory

    other = CharacterFactory(name="Other")
    accounts = {
        (who.pk, platform): PlatformAccountFactory(character=who, platform=platform)
        for who in (character, other)
        for platform in ("instagram", "twitter")
    }
    start = dt.date(2026, 3, 1)
    for (who, _platform), account in accounts.items():
        for day in range(0, 40, 3):
            for metric in ("reach", "follower_count"):
                AnalyticsFactory(
                    platform_account=account,
                    metric_type=metric,
                    metric_date=start + dt.timedelta(days=day),
                    metric_value=Decimal("1.25")
                    * (day + 1)
                    * (2 if who == other.pk else 1),
                )
    cases = [
        ({"character": character.pk, "metric_type": "reach"}, "day"),
        ({"character": other.pk, "metric_type": "reach"}, "day"),
        ({"character": character.pk, "metric_type": "follower_count"}, "week"),
        (
            {"character": character.pk, "metric_type": "reach", "platform": "twitter"},
            "month",
        ),
        (
            {
                "character": other.pk,
                "metric_type": "reach",
                "date_from": start + dt.timedelta(days=5),
                "date_to": start + dt.timedelta(days=20),
            },
            "day",
        ),
        ({"character": character.pk, "metric_type": "reach", "date_to": start}, "day"),
    ]

    def expected(params, bucket):
        lookups = {
            {"date_from": "metric_date__gte", "date_to": "metric_date__lte"}.get(
                k, k
            ): v
            for k, v in params.items()
        }
        rows = metric_series(Analytics.objects.filter(**lookups), bucket=bucket)
        return _plain(SeriesPointSerializer(rows, many=True).data)

    def get(params, bucket):
        response = admin_api.get(
            "/api/v1/analytics/series/", {**params, "bucket": bucket}
        )
        assert response.status_code == 200, response.content
        return response.json()

    for params, bucket in cases:
        get(params, bucket)  # each shape of query is compiled on its first use
    compiled = _compiled_queries(monkeypatch)
    for params, bucket in cases:
        answer = get(params, bucket)
        assert answer, (params, bucket)
        assert answer == expected(params, bucket), (params, bucket)
    # the series' reads compiled no query (expected() compiled its own)
    assert sum(q.model is Analytics for q in compiled) == len(cases)
    # the compiled SQL ran with each query's own values, not the first query's
    assert get(*cases[0]) != get(*cases[1])
    # an account's filter (a model instance) goes through the ORM, same answer
    account = accounts[(character.pk, "twitter")]
    params = {"character": character.pk, "metric_type": "reach"}
    answer = get({**params, "platform_account": account.pk}, "day")
    assert answer == expected({**params, "platform_account": account.pk}, "day")
    assert answer == expected({**params, "platform": "twitter"}, "day")
    # bad values are the same 400s as before
    bad = admin_api.get(
        "/api/v1/analytics/series/",
        {"character": character.pk, "metric_type": "bogus", "date_from": "soon"},
    )
    assert bad.status_code == 400 and sorted(bad.json()) == ["date_from", "metric_type"]


@pytest.mark.django_db
def test_a_series_filtered_or_scoped_its_own_way_keeps_the_orm(
    admin_api, character, monkeypatch
):
    from analytics.filtersets import AnalyticsSeriesFilterSet
    from analytics.models import Analytics
    from tests.factories import AnalyticsFactory, PlatformAccountFactory

    for platform, value in (("instagram", 1), ("twitter", 10)):
        AnalyticsFactory(
            platform_account=PlatformAccountFactory(
                character=character, platform=platform
            ),
            metric_type="reach",
            metric_date=dt.date(2026, 3, 1),
            metric_value=Decimal(value),
        )
    url = f"/api/v1/analytics/series/?character={character.pk}&metric_type=reach"
    assert admin_api.get(url).json()[0]["total"] == "11.00"
    real = AnalyticsSeriesFilterSet.filter_queryset
    monkeypatch.setattr(
        AnalyticsSeriesFilterSet,
        "filter_queryset",
        lambda self, queryset: real(self, queryset).filter(platform="twitter"),
    )
    assert admin_api.get(url).json()[0]["total"] == "10.00"
    monkeypatch.undo()
    # and a view whose queryset is made per request (a user's scope)
    from analytics.api.views import AnalyticsViewSet

    monkeypatch.setattr(
        AnalyticsViewSet,
        "get_queryset",
        lambda self: Analytics.objects.filter(platform="instagram"),
        raising=False,
    )
    assert admin_api.get(url).json()[0]["total"] == "1.00"


def _answers(api, urls) -> dict[str, tuple[int, object]]:
    out = {}
    for url in urls:
        response = api.get(url)
        out[url] = (response.status_code, response.json())
    return out


@pytest.mark.django_db
def test_list_pages_run_their_compiled_sql_with_each_requests_values(
    admin_api, monkeypatch
):
    """A page-numbered list compiles each shape of request once; every request
    gets its own rows, count and links, exactly as the ORM path answers."""
    from characters.api.views import CharacterViewSet
    from content.api.views import ContentViewSet

    ada, bob = CharacterFactory(name="Ada"), CharacterFactory(name="Bob")
    CharacterFactory.create_batch(3, status="paused")
    BareCharacterFactory(name="Bare")
    for who, n in ((ada, 5), (bob, 2)):
        ContentFactory.create_batch(
            n, character=who, content_type="image", approval_status="approved"
        )
        ContentFactory(character=who, content_type="video", approval_status="pending")
    urls = [
        "/api/v1/characters/",
        "/api/v1/characters/?page_size=2",
        "/api/v1/characters/?page_size=2&page=2",
        "/api/v1/characters/?page_size=2&page=3",  # the last page, not full
        "/api/v1/characters/?status=active&ordering=name",
        "/api/v1/characters/?status=paused&ordering=name",
        "/api/v1/characters/?ordering=-status,name&page_size=4&page=2",
        f"/api/v1/content/?character={ada.pk}&content_type=image"
        "&approval_status=approved&page_size=2",
        f"/api/v1/content/?character={bob.pk}&content_type=image"
        "&approval_status=approved&page_size=2",
        f"/api/v1/content/?character={ada.pk}&content_type=video",
        f"/api/v1/content/?character={bob.pk}&ordering=created_at&page_size=2&page=2",
    ]
    compiled_first = _answers(admin_api, urls)  # each shape compiled here
    compiled = _compiled_queries(monkeypatch)
    again = _answers(admin_api, urls)
    assert not [q for q in compiled if q.model in (Character, Content)]
    monkeypatch.setattr(CharacterViewSet, "compiled_pages", None)
    monkeypatch.setattr(ContentViewSet, "compiled_pages", None)
    orm = _answers(admin_api, urls)
    assert compiled_first == again == orm
    assert all(status == 200 for status, _ in orm.values())
    # each request's own values: other characters, other counts
    answer = {url: body for url, (_, body) in again.items()}
    assert answer[urls[4]]["count"] == 3 and answer[urls[5]]["count"] == 3
    assert {c["name"] for c in answer[urls[4]]["results"]} == {"Ada", "Bob", "Bare"}
    assert answer[urls[7]]["count"] == 5 and answer[urls[8]]["count"] == 2
    assert answer[urls[7]]["next"] and answer[urls[8]]["next"] is None
    assert len(answer[urls[3]]["results"]) == 2 and answer[urls[3]]["next"] is None


@pytest.mark.django_db
def test_a_compiled_list_answers_the_same_errors_and_empty_pages(admin_api):
    gone = CharacterFactory()
    character_soft_delete(character=gone, actor=None)
    quiet = CharacterFactory()
    for _ in range(2):  # compiled on the first pass, reused on the second
        empty = admin_api.get(f"/api/v1/content/?character={quiet.pk}")
        assert empty.status_code == 200 and empty.json()["count"] == 0
        for who in (gone.pk, uuid.uuid4()):
            response = admin_api.get(f"/api/v1/content/?character={who}")
            assert response.status_code == 400
            assert "character" in response.json()
        assert admin_api.get("/api/v1/characters/?page=99").status_code == 404
        bad = admin_api.get("/api/v1/characters/?ordering=bogus&status=nope")
        assert bad.status_code == 400 and "status" in bad.json()
        assert admin_api.get("/api/v1/characters/?ordering=bogus").status_code == 400
    # a filter whose value Django rewrites (icontains) takes the ORM: right rows
    CharacterFactory(name="Zelda")
    found = admin_api.get("/api/v1/characters/?name=eld").json()
    assert [c["name"] for c in found["results"]] == ["Zelda"]
    assert admin_api.get("/api/v1/characters/?name=zz").json()["count"] == 0


@pytest.mark.django_db
def test_cursor_pages_run_their_compiled_sql_with_each_cursors_position(
    admin_api, character, monkeypatch
):
    """The posts' cursor pages, forward and back, as the ORM path answers
    them; the cursor's position travels in the compiled SQL's parameters."""
    from urllib.parse import urlsplit

    from platforms.api.views import PostViewSet

    other = CharacterFactory(name="Other")
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for i in range(7):
        for who in (character, other):
            PostFactory(
                platform_account__character=who,
                published_at=start + dt.timedelta(hours=i),
            )

    def walk(url: str) -> list:
        seen = []
        while url:
            response = admin_api.get(url)
            seen.append((response.status_code, response.json()))
            link = response.json().get("next") if response.status_code == 200 else None
            url = link and f"{urlsplit(link).path}?{urlsplit(link).query}"
        back = seen[-1][1].get("previous") if seen[-1][0] == 200 else None
        if back:
            response = admin_api.get(f"{urlsplit(back).path}?{urlsplit(back).query}")
            seen.append((response.status_code, response.json()))
        return seen

    urls = [
        f"/api/v1/posts/?character={character.pk}&ordering=-published_at&page_size=3",
        f"/api/v1/posts/?character={other.pk}&ordering=-published_at&page_size=3",
        f"/api/v1/posts/?character={other.pk}&page_size=5",
        "/api/v1/posts/?ordering=published_at&page_size=4",
    ]
    first = [walk(url) for url in urls]  # each shape compiled here
    compiled = _compiled_queries(monkeypatch)
    again = [walk(url) for url in urls]
    assert not [q for q in compiled if q.model is Post]
    monkeypatch.setattr(PostViewSet, "compiled_pages", None)
    assert first == again == [walk(url) for url in urls]
    # every post once, in order, and the pages of each character its own
    pages = again[0][:-1]  # the last entry is the way back
    ids = [row["id"] for _, page in pages for row in page["results"]]
    expected = Post.objects.filter(character=character).order_by("-published_at")
    assert ids == [str(pk) for pk in expected.values_list("pk", flat=True)]
    other_ids = {row["id"] for _, page in again[1] for row in page["results"]}
    assert not other_ids & set(ids)
    # 14 posts by 4 (two at each hour: the cursor's offset), then back once
    forward = again[3][:-1]
    assert [len(page["results"]) for _, page in forward] == [4, 4, 4, 2]
    assert len({row["id"] for _, page in forward for row in page["results"]}) == 14
