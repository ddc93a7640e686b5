"""Where the persona's text goes, and the rules around it: captions on
completion and on demand, rule captions with {ai_caption} and their fallback,
engagement replies, re-approval of changed captions at the publish step,
moderation holds."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from automation import runs
from content.backends import LocalImageBackend
from content.captions import SENTINEL
from content.generation import process_generation_queue
from content.models import Content, TextGeneration
from content.services import (
    content_caption_approve,
    content_captions_request,
    text_generations_approve,
    text_generations_reject,
)
from content.textgen import process_text_queue
from logs.models import SystemLog
from platforms.adapters.dryrun import DryRunAdapter
from platforms.engagement import process_engagement_queue
from platforms.models import EngagementAction, ScheduledPost
from platforms.publishing import _Batch, claim_due_posts, publish_due_posts
from tests import factories as f

pytestmark = pytest.mark.django_db
S = TextGeneration.Status
SENT: list = []
ENGAGED: list = []


class RecordingAdapter(DryRunAdapter):
    """The dry run, remembering what went out."""

    def publish(self, request):
        SENT.append((request.caption, list(request.hashtags)))
        return super().publish(request)

    def perform_engagement(self, action):
        ENGAGED.append((action.pk, action.comment_text))
        return super().perform_engagement(action)


@pytest.fixture(autouse=True)
def recording(settings):
    SENT.clear()
    ENGAGED.clear()
    settings.PLATFORM_ADAPTERS = {"*": "tests.content.test_captions.RecordingAdapter"}


def make_due(sp):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduled_posts SET scheduled_at = created_at WHERE id = %s",
            [sp.pk],
        )
    return sp


def approved_content(character, **kwargs):
    return f.ContentFactory(
        character=character,
        content_type="image",
        approved=True,
        quality_score=Decimal("0.9"),
        prompt="photo of luna, sunset at the beach",
        **kwargs,
    )


# --- captions on completion and on demand ------------------------------------------


@pytest.mark.usefixtures("media")
def test_a_generation_with_write_caption_gets_captions_on_completion(chat):
    character = f.CharacterFactory()
    f.PlatformAccountFactory(character=character, platform="instagram")
    f.PlatformAccountFactory(character=character, platform="twitter")
    job = f.ContentGenerationFactory(
        character=character,
        batch_size=2,
        generation_settings={"width": 64, "height": 64, "write_caption": True},
    )
    assert process_generation_queue(backend=LocalImageBackend()) == 1
    job.refresh_from_db()
    texts = TextGeneration.objects.filter(content_id__in=job.generated_content_ids)
    # one per content, for the strictest of its platforms (X: 280)
    assert sorted(t.platform for t in texts) == ["twitter", "twitter"]
    assert process_text_queue()["completed"] == 2
    for content in Content.objects.filter(pk__in=job.generated_content_ids):
        assert content.caption.startswith("Golden light and good coffee")
        assert content.caption_status == "pending"
    assert len(chat.completions) == 2


def test_write_caption_on_demand_skips_content_already_waiting():
    character = f.CharacterFactory()
    rows = f.ContentFactory.create_batch(3, character=character, content_type="image")
    qs = Content.objects.filter(pk__in=[r.pk for r in rows])
    assert len(content_captions_request(queryset=qs)) == 3
    assert content_captions_request(queryset=qs) == []  # already asked for
    process_text_queue()
    assert set(qs.values_list("caption_status", flat=True)) == {"pending"}
    # written again on request (a new job), back to 'pending' for review
    content_caption_approve(queryset=qs)
    assert len(content_captions_request(queryset=qs)) == 3
    process_text_queue()
    assert set(qs.values_list("caption_status", flat=True)) == {"pending"}


# --- re-approval -------------------------------------------------------------------


def test_a_caption_changed_after_approval_needs_approval_again():
    content = f.ContentFactory(caption="First words", hashtags=["one"])
    assert Content.objects.get(pk=content.pk).caption_status == "pending"
    content_caption_approve(queryset=Content.objects.filter(pk=content.pk))
    assert Content.objects.get(pk=content.pk).caption_status == "approved"

    Content.objects.filter(pk=content.pk).update(hashtags=["two"])  # the ORM
    assert Content.objects.get(pk=content.pk).caption_status == "pending"
    content_caption_approve(queryset=Content.objects.filter(pk=content.pk))
    with connection.cursor() as cursor:  # plain SQL
        cursor.execute(
            "UPDATE content SET caption = 'Other words' WHERE id = %s", [content.pk]
        )
    assert Content.objects.get(pk=content.pk).caption_status == "pending"
    Content.objects.filter(pk=content.pk).update(caption=None)
    assert Content.objects.get(pk=content.pk).caption_status == "none"


def test_a_post_without_a_caption_publishes_its_contents_approved_caption(character):
    account = f.PlatformAccountFactory(character=character, platform="telegram")
    content = approved_content(character, caption="Sun's out", hashtags=["summer"])
    sp = make_due(
        f.ScheduledPostFactory(
            platform_account=account, content=content, caption="", hashtags=None
        )
    )
    # the caption was written after the media was approved: not yet approved
    assert publish_due_posts(now=timezone.now()) == 0
    sp.refresh_from_db()
    assert sp.status == "failed"
    assert "its caption is not approved (awaiting approval)" in sp.error_message
    assert SENT == []

    content_caption_approve(queryset=Content.objects.filter(pk=content.pk))
    ScheduledPost.objects.filter(pk=sp.pk).update(
        status="scheduled", error_message=None
    )
    assert publish_due_posts(now=timezone.now()) == 1
    assert SENT == [("Sun's out", ["summer"])]
    sp.refresh_from_db()
    assert sp.post.caption == "Sun's out" and sp.post.hashtags == ["summer"]


def test_a_caption_only_post_held_by_moderation_waits_and_is_refused_if_taken(
    character,
):
    account = f.PlatformAccountFactory(character=character, platform="telegram")
    held = make_due(
        f.ScheduledPostFactory(platform_account=account, content=None, caption="hi")
    )
    ScheduledPost.objects.filter(pk=held.pk).update(caption_status="flagged")
    assert publish_due_posts(now=timezone.now()) == 0
    assert ScheduledPost.objects.get(pk=held.pk).status == "scheduled"  # waits

    # flagged after a worker took it: the publish step refuses it
    taken = make_due(
        f.ScheduledPostFactory(platform_account=account, content=None, caption="yo")
    )
    [item] = claim_due_posts(now=timezone.now())
    ScheduledPost.objects.filter(pk=taken.pk).update(caption_status="flagged")
    assert _Batch([item])(item) == "failed"
    taken.refresh_from_db()
    assert "caption is held by moderation" in taken.error_message
    assert SENT == []


# --- rule captions -----------------------------------------------------------------


@pytest.fixture
def ai_rule(character):
    character.appearance.default_prompt_prefix = "photo of luna"
    character.appearance.save()
    f.PlatformAccountFactory(character=character, platform="instagram")
    return f.AutomationRuleFactory(
        character=character,
        platforms=["instagram"],
        caption_template="{ai_caption} (from {name})",
        hashtag_strategy="none",
        max_posts_per_day=None,
        cooldown_minutes=0,
        trigger_type="manual",
        trigger_config={},
    )


def test_ai_caption_is_the_contents_approved_caption(ai_rule, character):
    content = approved_content(character, caption="Beach day!")
    content_caption_approve(queryset=Content.objects.filter(pk=content.pk))
    assert runs.run_rule(ai_rule.pk).outcome == "scheduled"
    sp = ScheduledPost.objects.get(automation_rule=ai_rule)
    assert sp.caption == f"Beach day! (from {character.name})"
    assert sp.caption_status == "approved" and sp.caption_job is None


def test_ai_caption_is_written_for_the_post_while_it_waits(ai_rule, character, chat):
    approved_content(character)
    runs.run_rule(ai_rule.pk)
    sp = ScheduledPost.objects.get(automation_rule=ai_rule)
    assert sp.caption_status == "writing" and SENTINEL in sp.caption
    assert publish_due_posts(now=timezone.now()) == 0  # waits for its caption
    assert ScheduledPost.objects.get(pk=sp.pk).status == "scheduled"

    process_text_queue()
    sp.refresh_from_db()
    assert sp.caption_status == "approved"
    assert sp.caption.startswith("Golden light and good coffee")
    assert sp.caption.endswith(f"(from {character.name})")
    # the content is shown to the writer
    assert "sunset at the beach" in chat.completions[0]["messages"][1]["content"]
    assert publish_due_posts(now=timezone.now()) == 1
    assert SENT[0][0] == sp.caption


def test_ai_caption_falls_back_to_the_template_and_says_so(ai_rule, character, chat):
    chat.mode = "400"
    approved_content(character)
    runs.run_rule(ai_rule.pk)
    process_text_queue()
    sp = ScheduledPost.objects.get(automation_rule=ai_rule)
    assert sp.caption_status == "approved"
    assert sp.caption == f"sunset at the beach (from {character.name})"
    log = SystemLog.objects.get(component="persona_text")
    assert log.log_level == "warning" and "template's own text is used" in log.message
    assert "HTTP 400" in log.message
    assert publish_due_posts(now=timezone.now()) == 1


# --- engagement --------------------------------------------------------------------


def test_a_reply_gets_the_personas_text_and_is_performed_once(character, chat):
    account = f.PlatformAccountFactory(character=character, platform="twitter")
    reply = f.EngagementActionFactory(
        platform_account=account,
        action_type="reply",
        target_type="comment",
        target_text="Where was this taken?",
    )
    like = f.EngagementActionFactory(platform_account=account)
    chat.reply = lambda request: "In Lisbon, of course!"

    # without its text the reply waits; the like goes
    assert process_engagement_queue() == 1
    assert [(like.pk, None)] == ENGAGED
    process_text_queue()
    reply.refresh_from_db()
    assert reply.comment_text == "In Lisbon, of course!" and reply.text_job_id
    user = chat.completions[0]["messages"][1]["content"]
    assert '"""Where was this taken?"""' in user and "reply to this comment" in user
    assert process_engagement_queue() == 1
    assert process_engagement_queue() == 0
    assert ENGAGED[1] == (reply.pk, "In Lisbon, of course!")
    assert len(ENGAGED) == 2


def test_a_comment_on_our_own_post_has_that_post_in_the_prompt(character, chat):
    account = f.PlatformAccountFactory(character=character, platform="instagram")
    post = f.PostFactory(platform_account=account, caption="My new board!")
    f.EngagementActionFactory(
        platform_account=account, action_type="comment", target_id=post.platform_post_id
    )
    process_text_queue()
    assert '"""My new board!"""' in chat.completions[0]["messages"][1]["content"]


def test_a_reply_whose_text_cannot_be_written_fails_with_the_reason(character, chat):
    chat.mode = "401"
    action = f.EngagementActionFactory(
        platform_account=f.PlatformAccountFactory(character=character),
        action_type="comment",
    )
    process_text_queue()
    action.refresh_from_db()
    assert action.status == "failed"
    assert action.error_message.startswith("No text to post: writing it failed")
    assert process_engagement_queue() == 0 and ENGAGED == []


def test_given_text_is_used_as_is(character):
    action = f.EngagementActionFactory(
        platform_account=f.PlatformAccountFactory(character=character),
        action_type="comment",
        comment_text="Staff wrote this.",
    )
    process_text_queue()
    assert not TextGeneration.objects.exists()
    assert process_engagement_queue() == 1
    assert [(action.pk, "Staff wrote this.")] == ENGAGED


# --- moderation --------------------------------------------------------------------


@pytest.mark.usefixtures("word_list")
def test_a_flagged_caption_is_held_for_review_with_the_reason(chat):
    chat.reply = lambda request: "Taste the forbidden fruit tonight"
    content = f.ContentFactory(content_type="image")
    [job] = content_captions_request(queryset=Content.objects.filter(pk=content.pk))
    assert process_text_queue()["held"] == 1
    job.refresh_from_db()
    assert job.status == S.HELD
    assert job.moderation_reason == "contains a blocked word: 'forbidden fruit'"
    content.refresh_from_db()
    assert content.caption_status == "flagged"
    assert "forbidden fruit" in content.caption_note

    text_generations_approve(queryset=TextGeneration.objects.filter(pk=job.pk))
    content.refresh_from_db()
    assert content.caption_status == "approved" and content.caption_note is None


@pytest.mark.usefixtures("word_list")
def test_a_flagged_post_caption_waits_and_a_rejection_falls_back(
    ai_rule, character, chat
):
    chat.reply = lambda request: "send nudes"
    approved_content(character)
    runs.run_rule(ai_rule.pk)
    process_text_queue()
    sp = ScheduledPost.objects.get(automation_rule=ai_rule)
    assert sp.caption_status == "flagged" and "held by moderation" in sp.error_message
    assert publish_due_posts(now=timezone.now()) == 0 and SENT == []

    text_generations_reject(queryset=TextGeneration.objects.all())
    sp.refresh_from_db()
    assert sp.caption_status == "approved"
    assert sp.caption == f"sunset at the beach (from {character.name})"
    assert publish_due_posts(now=timezone.now()) == 1


@pytest.mark.usefixtures("word_list")
def test_a_flagged_reply_is_never_posted_until_a_person_approves_it(character, chat):
    chat.reply = lambda request: "nudes? never"
    action = f.EngagementActionFactory(
        platform_account=f.PlatformAccountFactory(character=character),
        action_type="reply",
    )
    process_text_queue()
    action.refresh_from_db()
    assert action.comment_text is None and "held by moderation" in action.error_message
    assert process_engagement_queue() == 0

    text_generations_approve(queryset=TextGeneration.objects.all())
    assert process_engagement_queue() == 1
    assert [(action.pk, "nudes? never")] == ENGAGED


def test_the_moderation_endpoint_flags_with_its_categories(chat, settings):
    settings.MODERATION_BACKEND = "content.moderation.ModerationEndpoint"
    chat.flag_words = ["loser"]
    chat.reply = lambda request: "Only a loser skips leg day"
    action = f.EngagementActionFactory(action_type="comment")
    process_text_queue()
    job = TextGeneration.objects.get()
    assert job.status == S.HELD
    assert job.moderation_reason == "flagged by the moderation endpoint: harassment"
    moderation = [c for c in chat.calls if c["path"] == "/v1/moderations"]
    assert moderation[0]["payload"]["input"] == "Only a loser skips leg day"
    action.refresh_from_db()
    assert action.comment_text is None


def test_a_failing_moderation_endpoint_holds_the_text_back(chat, settings):
    settings.MODERATION_BACKEND = "content.moderation.ModerationEndpoint"
    f.EngagementActionFactory(action_type="comment")
    chat.calls.clear()

    def moderation_down(call, original=chat.answer):
        if call["path"] == "/v1/moderations":
            return 500, {"error": {"message": "down"}}
        return original(call)

    chat.answer = moderation_down
    process_text_queue()
    job = TextGeneration.objects.get()
    assert job.status == S.PENDING and "moderation endpoint failed" in job.error_message
    assert EngagementAction.objects.get().comment_text is None
