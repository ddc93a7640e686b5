"""`manage.py seed_scale` loads valid rows in bulk."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from analytics.models import Analytics
from characters.models import Character
from logs.models import SystemLog
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost


@pytest.mark.django_db(transaction=True)
def test_seed_scale_loads_the_requested_rows():
    call_command(
        "seed_scale",
        characters=5,
        posts=3000,
        scheduled=500,
        analytics=6000,  # 80 days: three months or more
        logs=700,
        engagement=300,
        batch=1000,
        truncate=True,
        verbosity=0,
    )
    assert Character.objects.count() == 5
    assert PlatformAccount.objects.count() == 15
    assert Post.objects.count() == 3000
    assert ScheduledPost.objects.count() == 500
    assert Analytics.objects.count() == 6000
    assert SystemLog.objects.count() == 700
    assert EngagementAction.objects.count() == 300
    # the history went into its months, not into DEFAULT (config/ops/partitions.py)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM analytics_default), "
            "(SELECT count(*) FROM system_logs_default)"
        )
        assert cursor.fetchone() == (0, 0)
    # rows respect the composite FKs and checks (the database accepted them);
    # spot-check a post's coherence with its account
    post = Post.objects.select_related("platform_account").first()
    assert post.platform == post.platform_account.platform
    assert ScheduledPost.objects.filter(status="scheduled").exists()


@pytest.mark.django_db
def test_seed_scale_rejects_bad_arguments():
    with pytest.raises(CommandError, match="accounts-per-character"):
        call_command("seed_scale", accounts_per_character=9, verbosity=0)
    with pytest.raises(CommandError, match="cannot be negative"):
        call_command("seed_scale", posts=-1, verbosity=0)
