"""The operator's broken list, each with the behaviour that was wrong."""

import datetime as dt

from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRun
from config import heartbeat
from config.admin_site import engine_status
from content.models import ContentGeneration
from platforms.models import Post, ScheduledPost
from tests.factories import (
    AnalyticsFactory,
    AutomationRuleFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)


def test_a_generation_job_saves_with_the_forms_defaults(
    administrator_client, character
):
    """Broken before: generation settings were pre-filled with null and
    required; {} was refused too."""
    url = reverse("admin:content_contentgeneration_add")
    page = administrator_client.get(url)
    assert b'name="gs_width"' in page.content
    assert b'name="generation_settings"' not in page.content
    response = administrator_client.post(
        url,
        {
            "character": str(character.pk),
            "job_type": "image",
            "status": "pending",
            "priority": "5",
            "batch_size": "1",
            "max_retries": "3",
            "prompt": "a portrait by the sea",
        },
    )
    assert response.status_code == 302, response.content[-3000:]
    assert ContentGeneration.objects.get().generation_settings == {}


def test_generation_settings_are_fields_and_errors_name_the_key(
    administrator_client, character
):
    url = reverse("admin:content_contentgeneration_add")
    base = {
        "character": str(character.pk),
        "job_type": "image",
        "status": "pending",
        "priority": "5",
        "batch_size": "1",
        "max_retries": "3",
        "prompt": "a portrait",
    }
    too_wide = administrator_client.post(url, {**base, "gs_width": "5000"})
    assert too_wide.status_code == 200
    assert "gs_width" in too_wide.context["adminform"].form.errors
    bad_other = administrator_client.post(
        url, {**base, "gs_other": '{"steps": "many"}'}
    )
    assert b"generation_settings.steps must be a whole number" in bad_other.content
    ok = administrator_client.post(
        url,
        {
            **base,
            "gs_width": "1024",
            "gs_cfg_scale": "6.5",
            "gs_other": '{"hires": true}',
        },
    )
    assert ok.status_code == 302
    assert ContentGeneration.objects.get().generation_settings == {
        "width": 1024,
        "cfg_scale": 6.5,
        "hires": True,
    }


def test_the_api_names_the_bad_generation_setting(character):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True))
    response = client.post(
        "/api/v1/generations/",
        {
            "character": str(character.pk),
            "job_type": "image",
            "prompt": "x",
            "generation_settings": {"width": "wide"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "generation_settings.width must be a whole number" in str(response.json())


def test_the_content_picker_lists_only_the_characters_publishable_items(
    administrator_client,
):
    """Broken before: every character's items, rejected and pending ones too."""
    account = PlatformAccountFactory(platform="telegram")
    mine = ContentFactory(
        character=account.character, approved=True, content_type="image"
    )
    pending = ContentFactory(character=account.character, content_type="image")
    rejected = ContentFactory(
        character=account.character, content_type="image", approval_status="rejected"
    )
    others = ContentFactory(approved=True, content_type="image")
    page = administrator_client.get(
        reverse("admin:platforms_scheduledpost_add")
        + f"?character={account.character_id}"
    )
    picker = page.context["adminform"].form.fields["content"]
    offered = {str(value) for value, _ in picker.choices if value}
    assert offered == {str(mine.pk)}
    html = page.content.decode()
    assert str(pending.pk) not in html and str(rejected.pk) not in html
    assert str(others.pk) not in html
    assert f"/admin/content/content/{mine.pk}/thumbnail/" in html
    # and another character's approved item is refused when posted anyway
    when = timezone.now() + dt.timedelta(days=1)
    response = administrator_client.post(
        reverse("admin:platforms_scheduledpost_add"),
        {
            "character": str(account.character_id),
            "platform_account": str(account.pk),
            "scheduled_at_0": when.strftime("%Y-%m-%d"),
            "scheduled_at_1": "12:00:00",
            "timezone": "UTC",
            "content": str(others.pk),
            "caption": "x",
            "post_type": "message",
            "max_retries": "3",
        },
    )
    assert response.status_code == 200
    assert "content" in response.context["adminform"].form.errors


def test_scheduling_without_a_character_asks_for_it_first(administrator_client):
    page = administrator_client.get(reverse("admin:platforms_scheduledpost_add"))
    assert page.status_code == 200
    assert b'id="choose-character"' in page.content
    assert b"Schedule a post: whose?" in page.content


def test_a_published_post_is_read_only(administrator_client):
    """Broken before: status and caption stayed editable after publishing."""
    post = PostFactory(status=Post.Status.PUBLISHED, caption="as it went out")
    url = reverse("admin:platforms_post_change", args=[post.pk])
    page = administrator_client.get(url)
    assert page.status_code == 200
    assert (
        b'name="caption"' not in page.content and b'name="status"' not in page.content
    )
    response = administrator_client.post(
        url, {"caption": "rewritten", "status": "draft"}
    )
    assert response.status_code == 403
    post.refresh_from_db()
    assert (post.caption, post.status) == ("as it went out", "published")
    draft = PostFactory(status=Post.Status.DRAFT, published_at=None)
    editable = administrator_client.get(
        reverse("admin:platforms_post_change", args=[draft.pk])
    )
    assert b'name="caption"' in editable.content


def test_a_published_scheduled_post_is_read_only(administrator_client):
    sp = ScheduledPostFactory()
    ScheduledPost.objects.filter(pk=sp.pk).update(
        status="published", published_at=timezone.now()
    )
    url = reverse("admin:platforms_scheduledpost_change", args=[sp.pk])
    page = administrator_client.get(url)
    assert b'name="caption"' not in page.content
    assert administrator_client.post(url, {"caption": "x"}).status_code == 403


def test_every_admin_page_names_an_icon_that_is_served(administrator_client):
    """Broken before: no favicon, a 404 on every page."""
    page = administrator_client.get(reverse("admin:index")).content.decode()
    assert 'rel="icon"' in page and "config/favicon.svg" in page
    assert finders.find("config/favicon.svg")
    redirect = administrator_client.get("/favicon.ico")
    assert redirect.status_code == 301
    assert redirect["Location"].endswith("config/favicon.svg")


def test_follower_counts_have_no_decimals(administrator_client):
    """Broken before: "259155.59" in the analytics list."""
    AnalyticsFactory(metric_type="follower_count", metric_value="259155.59")
    AnalyticsFactory(metric_type="engagement_rate", metric_value="3.4567")
    page = administrator_client.get(
        reverse("admin:analytics_analytics_changelist")
    ).content.decode()
    assert "259,156" in page and "259155.59" not in page
    assert "3.46 %" in page


def test_the_character_page_shows_no_raw_timestamps(administrator_client):
    """Broken before: "2026-11-30 03:47:09.601244+00:00" in the accounts table."""
    character = CharacterFactory(timezone="UTC")
    synced = dt.datetime(2026, 11, 30, 3, 47, 9, 601244, tzinfo=dt.UTC)
    PlatformAccountFactory(
        character=character, platform="instagram", last_synced_at=synced
    )
    page = administrator_client.get(
        reverse("admin:characters_character_change", args=[character.pk])
    ).content.decode()
    assert "03:47:09" not in page and "03:47:09.601244+00:00" not in page
    assert "30 Nov 2026, 03:47 UTC" in page


def test_nightly_tasks_wait_for_their_first_night_after_setup():
    """Broken before: right after setup they showed the alert "never ran"."""
    now = timezone.now()
    heartbeat.mark_installed()
    rows = {r["task"]: r for r in engine_status(now)}
    backup = rows["config.tasks.nightly_backup"]
    assert backup["health"] == "first run at 03:00 UTC" and backup["waiting"]
    assert rows["platforms.tasks.publish_due_posts"]["health"] == "never ran"
    # two days after setup, a nightly task that never ran is a fault again
    later = {r["task"]: r for r in engine_status(now + dt.timedelta(days=2))}
    assert later["config.tasks.nightly_backup"]["health"] == "never ran"


def test_the_dashboard_shows_a_waiting_nightly_task_without_the_alert_icon(
    admin_client,
):
    heartbeat.mark_installed()
    page = admin_client.get("/admin/").content.decode()
    engine = page[page.index('id="dashboard-engine"') :]
    row = engine[engine.index("Nightly database backup") :]
    row = row[: row.index("</tr>")]
    assert "icon-clock.svg" in row and "first run at 03:00 UTC" in row
    assert "icon-alert.svg" not in row


def test_a_rules_page_shows_its_latest_runs_and_why(administrator_client):
    """Broken before: "Run selected rules now" said "queued" and nothing
    visible followed; the reason was only a warning in system_logs."""
    rule = AutomationRuleFactory()
    AutomationRun.objects.create(
        rule=rule,
        trigger="manual",
        key="manual:1",
        status="done",
        outcome="nothing",
        reason="no approved, non-NSFW image content with quality >= 0.70.",
        finished_at=timezone.now(),
    )
    AutomationRun.objects.create(rule=rule, trigger="manual", key="manual:2")
    url = reverse("admin:automation_automationrule_change", args=[rule.pk])
    page = administrator_client.get(url).content.decode()
    assert 'id="rule-runs" data-pending="1"' in page
    assert "no approved, non-NSFW image content" in page
    assert "waiting for a worker" in page
    assert 'id="run-now"' in page
    fragment = administrator_client.get(
        reverse("admin:automation_automationrule_runs", args=[rule.pk])
    ).content.decode()
    assert fragment.startswith('<div id="rule-runs"')


def test_run_now_on_a_rules_page_queues_and_comes_back(
    administrator_client, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        "automation.services.celery_app.send_task",
        lambda name, kwargs: sent.append(kwargs),
    )
    rule = AutomationRuleFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = administrator_client.post(
            reverse("admin:automation_automationrule_run_now", args=[rule.pk]),
            follow=True,
        )
    assert response.redirect_chain[-1][0].endswith(f"/{rule.pk}/change/#runs")
    html = response.content.decode()
    assert "Run queued." in html and "latest runs" in html
    assert "waiting for a worker" in html
    assert len(sent) == 1 and AutomationRun.objects.get().status == "queued"


def test_an_analyst_cannot_run_a_rule_from_its_page(analyst_client):
    rule = AutomationRuleFactory()
    response = analyst_client.post(
        reverse("admin:automation_automationrule_run_now", args=[rule.pk])
    )
    assert response.status_code == 403
    assert not AutomationRun.objects.exists()
