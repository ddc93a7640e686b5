"""The strict filter backend binds, per request, only the filters the query
names, with a form class made once: it filters and refuses exactly as the
whole FilterSet does."""

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from config.api_filters import bound_filterset
from platforms.api.views import PostViewSet
from platforms.filtersets import PostFilterSet
from platforms.models import Post

pytestmark = pytest.mark.django_db


def _request(params):
    return Request(RequestFactory().get("/api/v1/posts/", params))


def _view():
    view = PostViewSet()
    view.filterset_class = PostFilterSet
    return view


@pytest.mark.parametrize(
    "params",
    [
        {"status": "published"},
        {"status": "published", "platform": "telegram", "hashtags": "a,b"},
        {"published_after": "2026-01-01T00:00:00+02:00", "post_type": "image"},
        {"status": "nonsense"},
        {"character": "not-a-uuid", "published_before": "yesterday"},
        {},
    ],
)
def test_it_filters_and_refuses_as_the_whole_filterset(params, character):
    if not params:
        params = {"character": str(character.pk)}
    request = _request(params)
    queryset = Post.objects.all()
    light = bound_filterset(PostFilterSet, request, queryset, _view())
    whole = PostFilterSet(request.query_params, queryset=queryset, request=request)
    assert set(light.filters) == set(params)
    assert light.is_valid() == whole.is_valid()
    if whole.is_valid():
        assert str(light.qs.query) == str(whole.qs.query)
    else:
        assert light.errors == whole.errors


def test_the_form_class_is_made_once_per_set_of_parameters():
    view, queryset = _view(), Post.objects.all()
    one = bound_filterset(PostFilterSet, _request({"status": "draft"}), queryset, view)
    two = bound_filterset(PostFilterSet, _request({"status": "failed"}), queryset, view)
    other = bound_filterset(
        PostFilterSet, _request({"platform": "telegram"}), queryset, view
    )
    assert type(one.form) is type(two.form)
    assert type(one.form) is not type(other.form)
    assert one.filters["status"] is not two.filters["status"]
    assert one.filters["status"].parent is one
