import datetime as dt

import factory
from django.utils import timezone
from factory import fuzzy

from automation.captions import post_type_for
from platforms.models import (
    EngagementAction,
    Platform,
    PlatformAccount,
    Post,
    ScheduledPost,
)
from tests.factories.characters import CharacterFactory
from tests.factories.content import ContentFactory


class PlatformAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformAccount
        django_get_or_create = ("character", "platform")

    character = factory.SubFactory(CharacterFactory)
    platform = fuzzy.FuzzyChoice(Platform.values)
    account_username = factory.Faker("user_name")
    account_id = factory.Sequence(lambda n: f"acct-{n}")
    auth_type = PlatformAccount.AuthType.API_KEY
    auth_data = factory.LazyFunction(lambda: {"token": "test-token-not-a-secret"})
    is_connected = True
    connection_status = PlatformAccount.ConnectionStatus.CONNECTED
    follower_count = fuzzy.FuzzyInteger(100, 100_000)
    following_count = fuzzy.FuzzyInteger(10, 1_000)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    platform_account = factory.SubFactory(PlatformAccountFactory)
    character = factory.SelfAttribute("platform_account.character")
    platform = factory.SelfAttribute("platform_account.platform")
    content = factory.SubFactory(
        ContentFactory, character=factory.SelfAttribute("..character")
    )
    post_type = Post._meta.get_field("post_type").choices[0][0]
    caption = factory.Faker("sentence", nb_words=12)
    hashtags = factory.LazyFunction(lambda: ["ai", "influencer"])
    status = Post.Status.PUBLISHED
    published_at = factory.LazyFunction(
        lambda: (
            timezone.now() - dt.timedelta(hours=factory.random.randgen.randint(1, 2000))
        )
    )
    platform_post_id = factory.Sequence(lambda n: f"pp-{n}")
    likes_count = fuzzy.FuzzyInteger(0, 5000)
    comments_count = fuzzy.FuzzyInteger(0, 500)
    shares_count = fuzzy.FuzzyInteger(0, 200)
    views_count = fuzzy.FuzzyInteger(0, 50_000)


class ScheduledPostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledPost

    platform_account = factory.SubFactory(PlatformAccountFactory)
    character = factory.SelfAttribute("platform_account.character")
    # content and post type the account's platform accepts (its adapter's
    # rules are checked at scheduling time): video on YouTube, an image elsewhere,
    # no bigger than the smallest image limit (Facebook's 4 MB; ContentFactory
    # draws up to 5 MB, which failed full_clean on one row in about fifty)
    content = factory.SubFactory(
        ContentFactory,
        character=factory.SelfAttribute("..character"),
        approved=True,
        file_size=fuzzy.FuzzyInteger(10_000, 4 * 1024 * 1024),
        content_type=factory.LazyAttribute(
            lambda o: (
                "video"
                if o.factory_parent.platform_account.platform == "youtube"
                else "image"
            )
        ),
    )
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=2))
    caption = factory.Faker("sentence", nb_words=10)
    hashtags = factory.LazyFunction(lambda: ["ai"])
    post_type = factory.LazyAttribute(
        lambda o: post_type_for(
            o.content.content_type if o.content else "text",
            o.platform_account.platform,
        )
    )


class EngagementActionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementAction

    platform_account = factory.SubFactory(PlatformAccountFactory)
    character = factory.SelfAttribute("platform_account.character")
    platform = factory.SelfAttribute("platform_account.platform")
    action_type = EngagementAction.ActionType.LIKE
    target_type = "post"
    target_id = factory.Sequence(lambda n: f"target-{n}")
