"""Every changelist costs a constant number of queries, whatever the rows."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config.permissions import PROJECT_APPS
from logs.models import AuditEvent
from tests.admin.builders import BUILDERS

# session, user, groups' permissions, the page's rows, the paginator's count,
# a few facet/filter or annotation reads: a page that needs more is doing
# something per row.
MAX_QUERIES = 12


def changelist_url(label: str) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist")


def count_queries(client, url) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[:2000]
    return len(ctx), response.content


def test_every_project_model_is_registered_and_has_a_builder():
    """The audit trail's event tables are read through each row's History page
    (and the API), not through changelists of their own."""
    models = [
        m
        for m in apps.get_models()
        if m._meta.app_label in PROJECT_APPS and not issubclass(m, AuditEvent)
    ]
    # the document's twelve, holds, rule runs, events, text jobs and slots,
    # and webhooks, their deliveries and e-mail notifications, and the synced
    # post numbers
    assert len(models) == 12 + 5 + 3 + 1
    for model in models:
        assert admin.site.is_registered(model), model
        assert model._meta.label_lower in BUILDERS, model


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_changelist_costs_the_same_for_2_and_30_rows(administrator_client, label):
    url = changelist_url(label)
    BUILDERS[label](2)
    administrator_client.get(url)  # warm the content-type cache
    small, small_html = count_queries(administrator_client, url)
    BUILDERS[label](28)
    big, big_html = count_queries(administrator_client, url)

    assert big == small, f"{label}: {small} queries for 2 rows, {big} for 30"
    assert small <= MAX_QUERIES
    # 30 rows rendered (each row's first cell; read-only lists have no checkbox)
    assert big_html.count(b'<th class="field-') == 30


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_changelist_search_and_filters_cost_a_constant_number_of_queries(
    administrator_client, label
):
    BUILDERS[label](3)
    url = changelist_url(label) + "?q=abc&o=1"
    administrator_client.get(url)
    small, _ = count_queries(administrator_client, url)
    BUILDERS[label](10)
    big, _ = count_queries(administrator_client, url)
    assert big == small <= MAX_QUERIES


@pytest.mark.parametrize(
    "label,params",
    [
        (
            "platforms.post",
            "status__exact=published&platform__exact=instagram&published=7d",
        ),
        ("platforms.scheduledpost", "status__exact=scheduled&when=next24h"),
        ("platforms.engagementaction", "status__exact=pending&created=24h"),
        ("content.content", "approval_status__exact=pending&created=today"),
        ("analytics.analytics", "metric_type__exact=follower_count&date=30d"),
        ("logs.systemlog", "log_level__in=error,critical&created=24h"),
        ("logs.event", "status__exact=pending&name=post_published&created=24h"),
        ("characters.character", "deleted=all&status__exact=active"),
    ],
)
def test_filtered_changelists_render(administrator_client, label, params):
    BUILDERS[label](3)
    n, _ = count_queries(administrator_client, f"{changelist_url(label)}?{params}")
    assert n <= MAX_QUERIES


def test_big_tables_never_run_a_full_result_count():
    for label in (
        "platforms.post",
        "platforms.scheduledpost",
        "platforms.engagementaction",
        "content.content",
        "content.contentgeneration",
        "analytics.analytics",
        "logs.systemlog",
        "logs.event",
        "logs.webhookdelivery",
        "logs.notification",
    ):
        model_admin = admin.site.get_model_admin(apps.get_model(label))
        assert model_admin.show_full_result_count is False, label
        assert model_admin.paginator.__name__ == "EstimatedCountPaginator", label
        assert model_admin.date_hierarchy is None, label
        assert model_admin.show_facets == admin.ShowFacets.NEVER, label
        for f in model_admin.list_filter:
            if isinstance(f, str):
                field = model_admin.model._meta.get_field(f.split("__")[0])
                assert not field.is_relation or "__" in f, (label, f)


def test_every_admin_states_its_select_related_and_fk_widgets():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        assert isinstance(model_admin.list_select_related, tuple), model
        fks = [
            f.name
            for f in model._meta.fields
            if f.is_relation and f.many_to_one and f.editable
        ]
        widgets = set(model_admin.autocomplete_fields) | set(model_admin.raw_id_fields)
        readonly = set(model_admin.readonly_fields)
        for fk in fks:
            assert fk in widgets or fk in readonly, (model, fk)


def test_posts_sort_by_likes_only_among_published_posts(administrator_client):
    BUILDERS["platforms.post"](3)
    url = changelist_url("platforms.post")
    # Column 7 is likes_count: a header link only where its index applies.
    assert b"o=7" not in administrator_client.get(url).content
    published = administrator_client.get(url + "?status__exact=published").content
    assert b"o=7" in published


def test_published_posts_sort_by_every_engagement_column(administrator_client):
    from platforms.models import Post

    BUILDERS["platforms.post"](3)
    Post.objects.update(status="published")
    for n, post in enumerate(Post.objects.order_by("pk")):
        Post.objects.filter(pk=post.pk).update(views_count=n * 100, shares_count=5 - n)
    url = changelist_url("platforms.post") + "?status__exact=published"
    page = administrator_client.get(url).content
    for column in (7, 8, 9, 10):  # likes, comments, shares, views
        assert f"o={column}".encode() in page
    by_views = administrator_client.get(url + "&o=-10").context["cl"].result_list
    assert [p.views_count for p in by_views] == sorted(
        (p.views_count for p in by_views), reverse=True
    )


def test_rows_carry_djangos_own_checkbox_and_link(administrator_client):
    """The changelist writes each row's checkbox and change link without
    Django's widget template and reverse() per row: the same HTML."""
    from platforms.models import Post

    BUILDERS["platforms.post"](3)
    html = administrator_client.get(changelist_url("platforms.post")).content.decode()
    model_admin = admin.site._registry[Post]
    posts = list(Post.objects.all())
    assert len(posts) == 3
    for post in posts:
        assert str(admin.ModelAdmin.action_checkbox(model_admin, post)) in html
        link = reverse("admin:platforms_post_change", args=[post.pk])
        assert f'<a href="{link}">' in html
    assert html.count('class="action-select"') == 3


def test_pages_build_the_app_list_only_where_they_show_it(
    administrator_client, monkeypatch
):
    """Every admin page's context carries the app list for the navigation
    sidebar, which is off: a changelist does not build it, the index does and
    lists the apps."""
    from django.contrib.admin import AdminSite

    built = []
    build = AdminSite._build_app_dict

    def counted(self, request, label=None):
        built.append(label)
        return build(self, request, label)

    monkeypatch.setattr(AdminSite, "_build_app_dict", counted)
    assert administrator_client.get(changelist_url("platforms.post")).status_code == 200
    assert built == []
    index = administrator_client.get(reverse("admin:index"))
    assert built == [None]
    assert b'href="/admin/platforms/post/"' in index.content
