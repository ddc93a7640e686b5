"""Fill the database with a realistic demo world (idempotent)."""

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from analytics.models import Analytics
from automation.models import AutomationRule
from characters.models import Character
from characters.services import character_create
from content.captions import content_caption_jobs
from content.models import Content, ContentGeneration
from content.text_backends import LocalTextBackend
from content.textgen import process_text_queue
from logs.models import SystemLog
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost

PERSONAS = [
    (
        "Luna Reyes",
        26,
        "Barcelona, Spain",
        "Europe/Madrid",
        ["fitness", "travel", "yoga"],
        "sassy",
        "positive",
        ["instagram", "twitter", "telegram"],
    ),
    (
        "Kai Nakamura",
        29,
        "Tokyo, Japan",
        "Asia/Tokyo",
        ["tech", "gaming", "anime"],
        "casual",
        "humorous",
        ["twitter", "youtube", "telegram"],
    ),
    (
        "Maya Laurent",
        24,
        "Paris, France",
        "Europe/Paris",
        ["fashion", "art", "coffee"],
        "friendly",
        "positive",
        ["instagram", "facebook", "onlyfans"],
    ),
    (
        "Noah Brooks",
        31,
        "Austin, USA",
        "America/Chicago",
        ["music", "food", "bbq"],
        "inspirational",
        "neutral",
        ["instagram", "youtube"],
    ),
    (
        "Sofia Marin",
        27,
        "Lisbon, Portugal",
        "Europe/Lisbon",
        ["surf", "travel", "wellness"],
        "casual",
        "positive",
        ["instagram", "telegram", "twitter"],
    ),
    (
        "Zara Quinn",
        22,
        "London, UK",
        "Europe/London",
        ["beauty", "makeup", "fashion"],
        "sassy",
        "edgy",
        ["instagram", "twitter", "youtube", "telegram"],
    ),
]
# Each persona's voice, beyond style and tone: the local text backend writes
# their captions from these, so the demo shows them differ (issue 15).
VOICES = {
    "Luna Reyes": {
        "emoji_usage": "heavy",
        "energy_level": "0.90",
        "extroversion": "0.85",
        "humor": "0.60",
        "flirtatiousness_level": "0.30",
        "flirting_style": "playful",
    },
    "Kai Nakamura": {
        "emoji_usage": "minimal",
        "humor": "0.90",
        "professionalism": "0.20",
        "energy_level": "0.50",
    },
    "Maya Laurent": {
        "emoji_usage": "moderate",
        "creativity": "0.90",
        "authenticity": "0.80",
        "energy_level": "0.40",
    },
    "Noah Brooks": {
        "emoji_usage": "none",
        "energy_level": "0.20",
        "professionalism": "0.85",
        "humor": "0.20",
        "extroversion": "0.40",
    },
    "Sofia Marin": {
        "emoji_usage": "moderate",
        "authenticity": "0.90",
        "energy_level": "0.70",
    },
    "Zara Quinn": {
        "emoji_usage": "heavy",
        "energy_level": "0.95",
        "extroversion": "0.90",
        "humor": "0.75",
    },
}
HASHTAGS = ["ai", "influencer", "dailyvibes", "lifestyle", "travel", "fitness", "ootd"]
FAN_COMMENTS = [
    "Where was this taken?",
    "Obsessed with this look!",
    "Teach me your ways",
    "This made my day",
]
CAPTIONS = [
    "Golden hour never gets old",
    "New week, new goals",
    "Coffee first, then the world",
    "Weekend mood: unlocked",
    "Little things that make the day",
    "Behind the scenes of today's shoot",
    "Which one is your favourite?",
]
COLORS = [
    (233, 150, 122),
    (100, 149, 237),
    (144, 238, 144),
    (221, 160, 221),
    (255, 215, 0),
]


class Command(BaseCommand):
    help = "Create a demo world: characters, content, accounts, posts, schedules, rules, analytics, logs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when the database already holds characters.",
        )
        parser.add_argument(
            "--days", type=int, default=90, help="Days of analytics (90)."
        )
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, if_empty=False, days=90, seed=42, **options):
        if if_empty and Character.all_objects.exists():
            self.stdout.write("Demo data skipped: the database already has characters.")
            return
        rng = random.Random(seed)
        existing = set(Character.all_objects.values_list("name", flat=True))
        todo = [p for p in PERSONAS if p[0] not in existing]
        if not todo:
            self.stdout.write("Demo data already present.")
            return
        for persona in tqdm(
            todo, desc="demo characters", disable=options["verbosity"] < 1
        ):
            with transaction.atomic():
                self._character(persona, rng, days)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data: {len(todo)} characters created.")
        )

    def _character(self, persona, rng: random.Random, days: int) -> None:
        name, age, location, tz, interests, style, tone, platforms = persona
        now = timezone.now()
        character = character_create(
            name=name,
            age=age,
            location=location,
            timezone=tz,
            interests=interests,
            bio=f"{name.split()[0]} shares {', '.join(interests)} from {location}.",
            personality={
                "communication_style": style,
                "content_tone": tone,
                "humor": Decimal(rng.randint(20, 95)) / 100,
                "extroversion": Decimal(rng.randint(30, 95)) / 100,
                "creativity": Decimal(rng.randint(40, 95)) / 100,
                "preferred_topics": interests[:2],
                "llm_personality_prompt": f"You are {name}, a {age}-year-old from {location}.",
                **{
                    k: Decimal(v) if k not in ("emoji_usage", "flirting_style") else v
                    for k, v in VOICES.get(name, {}).items()
                },
            },
            appearance={
                "hair_color": rng.choice(["blonde", "brown", "black", "auburn"]),
                "eye_color": rng.choice(["green", "brown", "blue", "hazel"]),
                "style_keywords": ["photorealistic", "natural light", interests[0]],
                "default_prompt_prefix": f"photo of {name}, {age} years old,",
                "negative_prompt": "blurry, deformed hands, watermark, text",
            },
        )
        content = self._content(character, rng, now)
        self._captions(content)
        accounts = [
            PlatformAccount.objects.create(
                character=character,
                platform=platform,
                account_username=name.split()[0].lower() + "." + platform[:2],
                account_url=f"https://{platform}.example.com/{name.split()[0].lower()}",
                auth_type=PlatformAccount.AuthType.API_KEY,
                is_connected=platform != "onlyfans",
                connection_status="connected"
                if platform != "onlyfans"
                else "disconnected",
                follower_count=rng.randint(2_000, 250_000),
                following_count=rng.randint(50, 900),
                post_count=0,
                last_synced_at=now,
            )
            for platform in platforms
        ]
        approved = [c for c in content if c.is_approved and c.content_type != "audio"]
        posts = []
        for account in accounts:
            for i in range(rng.randint(15, 30)):
                item = rng.choice(approved)
                published = now - dt.timedelta(hours=rng.randint(1, days * 24))
                posts.append(
                    Post(
                        character=character,
                        platform_account=account,
                        platform=account.platform,
                        post_type="post",
                        platform_post_id=f"demo-{account.pk.hex[:8]}-{i}",
                        platform_post_url=f"{account.account_url}/p/{i}",
                        content=item,
                        caption=item.caption or rng.choice(CAPTIONS),
                        hashtags=item.hashtags or rng.sample(HASHTAGS, 3),
                        likes_count=rng.randint(50, 8_000),
                        comments_count=rng.randint(0, 400),
                        shares_count=rng.randint(0, 150),
                        views_count=rng.randint(500, 60_000),
                        status="published",
                        published_at=published,
                    )
                )
        Post.objects.bulk_create(posts)
        for account in accounts:
            PlatformAccount.objects.filter(pk=account.pk).update(
                post_count=sum(1 for p in posts if p.platform_account_id == account.pk)
            )
        rule = AutomationRule.objects.create(
            character=character,
            name=f"{name.split()[0]}: morning post",
            description="Posts the best unused approved image every morning.",
            trigger_type="schedule",
            trigger_config={"cron": "0 9 * * *"},
            platforms=[a.platform for a in accounts if a.is_connected][:2],
            content_type="image",
            # the persona's approved caption, or one written for the post
            caption_template="{ai_caption} — {name}",
            hashtag_strategy="auto",
            max_posts_per_day=2,
            max_posts_per_week=10,
        )
        AutomationRule.objects.create(
            character=character,
            name=f"{name.split()[0]}: half-hourly story",
            description="Keeps the demo moving: a story every 30 minutes, 4 a day.",
            trigger_type="schedule",
            trigger_config={"cron": "*/30 * * * *"},
            platforms=[a.platform for a in accounts if a.is_connected][:1],
            content_type="image",
            caption_template="{caption} ({weekday})",
            hashtag_strategy="auto",
            max_posts_per_day=4,
            cooldown_minutes=25,
        )
        AutomationRule.objects.create(
            character=character,
            name=f"{name.split()[0]}: on approval",
            trigger_type="event",
            trigger_config={"event": "content_approved"},
            platforms=[accounts[0].platform],
            content_type="image",
            is_enabled=False,
        )
        connected = [a for a in accounts if a.is_connected]
        scheduled = []
        for i in range(8):
            account = rng.choice(connected)
            scheduled.append(
                ScheduledPost(
                    character=character,
                    platform_account=account,
                    scheduled_at=now + dt.timedelta(minutes=5 + i * 180),
                    timezone=character.timezone,
                    content=rng.choice(approved),
                    # half publish their content's approved caption
                    caption=None if i % 2 else rng.choice(CAPTIONS),
                    hashtags=None if i % 2 else rng.sample(HASHTAGS, 2),
                    post_type="post",
                    automation_rule=rule if i % 2 == 0 else None,
                )
            )
        ScheduledPost.objects.bulk_create(scheduled)
        EngagementAction.objects.bulk_create(
            EngagementAction(
                character=character,
                platform_account=account,
                platform=account.platform,
                action_type=rng.choice(["like", "comment", "follow", "reply"]),
                target_type="post",
                target_id=f"target-{rng.randint(1000, 9999)}",
                # comments and replies without text get the persona's
                target_text=rng.choice(FAN_COMMENTS),
                comment_text="Love this!" if i % 3 == 0 else None,
                status="pending" if i < 6 else "completed",
                completed_at=None if i < 6 else now - dt.timedelta(hours=i),
            )
            for i, account in enumerate(rng.choices(connected, k=12))
        )
        ContentGeneration.objects.bulk_create(
            ContentGeneration(
                character=character,
                job_type="image",
                priority=rng.randint(1, 10),
                prompt=f"{name} {rng.choice(['at the beach', 'in a cafe', 'on a rooftop'])}",
                generation_settings={
                    "steps": 25,
                    "cfg_scale": 7,
                    "width": 512,
                    "height": 640,
                },
            )
            for _ in range(3)
        )
        self._analytics(character, accounts, rng, days)
        SystemLog.objects.bulk_create(
            [
                SystemLog(
                    log_level="info",
                    component="seed_demo",
                    message=f"Demo character {name} created",
                    character=character,
                ),
                SystemLog(
                    log_level="warning",
                    component="publisher",
                    message="Rate limit close on " + accounts[0].platform,
                    character=character,
                    platform_account=accounts[0],
                ),
            ]
        )

    def _content(self, character, rng, now) -> list[Content]:
        from PIL import Image, ImageDraw

        folder = Path(settings.MEDIA_ROOT) / "demo" / str(character.pk)
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(24):
            kind = ["image"] * 3 + ["video", "text", "audio"]
            content_type = kind[i % len(kind)]
            status = rng.choice(
                ["approved", "approved", "approved", "pending", "rejected"]
            )
            relative = f"demo/{character.pk}/{i:03d}"
            extra = {}
            if content_type == "image":
                path = folder / f"{i:03d}.png"
                image = Image.new("RGB", (320, 400), rng.choice(COLORS))
                draw = ImageDraw.Draw(image)
                draw.ellipse((110, 80, 210, 180), fill=(250, 235, 215))
                draw.rectangle((90, 190, 230, 380), fill=(70, 70, 90))
                draw.text((12, 12), f"{character.name} #{i}", fill=(20, 20, 20))
                image.save(path)
                extra = {
                    "width": 320,
                    "height": 400,
                    "mime_type": "image/png",
                    "file_size": path.stat().st_size,
                }
                relative += ".png"
            elif content_type == "video":
                extra = {
                    "width": 1080,
                    "height": 1920,
                    "duration": rng.randint(8, 60),
                    "mime_type": "video/mp4",
                    "file_size": rng.randint(2, 40) * 1_000_000,
                }
                relative += ".mp4"
            elif content_type == "text":
                path = folder / f"{i:03d}.txt"
                path.write_text(rng.choice(CAPTIONS) + "\n")
                extra = {"mime_type": "text/plain", "file_size": path.stat().st_size}
                relative += ".txt"
            else:
                extra = {
                    "duration": rng.randint(10, 90),
                    "mime_type": "audio/mpeg",
                    "file_size": rng.randint(200_000, 2_000_000),
                }
                relative += ".mp3"
            rows.append(
                Content(
                    character=character,
                    content_type=content_type,
                    content_category=rng.choice(["post", "story", "reel"]),
                    file_path=relative,
                    prompt=f"{character.name}, {rng.choice(['sunset', 'city lights', 'gym', 'beach'])}",
                    negative_prompt="blurry, watermark",
                    generation_settings={
                        "steps": 30,
                        "cfg_scale": 7,
                        "sampler": "DPM++ 2M",
                    },
                    generation_time_seconds=rng.randint(4, 40),
                    seed=rng.randint(1, 2**31 - 1),
                    quality_score=Decimal(rng.randint(55, 99)) / 100,
                    approval_status=status,
                    is_approved=status == "approved",
                    rejection_reason="Hands look wrong"
                    if status == "rejected"
                    else None,
                    tags=rng.sample(
                        ["summer", "city", "portrait", "outdoor", "studio"], 2
                    ),
                    **extra,
                )
            )
        return Content.objects.bulk_create(rows)

    def _captions(self, content: list[Content]) -> None:
        """The persona writes the captions of its approved images (the text
        queue with the local backend, as `make run` would a moment later),
        approved for the demo so its posts can use them."""
        images = [c for c in content if c.content_type == "image" and c.is_approved]
        content_caption_jobs(images)
        process_text_queue(backend=LocalTextBackend(), moderator=None)
        Content.objects.filter(pk__in=[c.pk for c in images]).exclude(
            caption=None
        ).update(caption_status=Content.CaptionStatus.APPROVED)
        written = {
            pk: (caption, hashtags)
            for pk, caption, hashtags in Content.objects.filter(
                pk__in=[c.pk for c in images]
            ).values_list("pk", "caption", "hashtags")
        }
        for item in images:
            item.caption, item.hashtags = written[item.pk]

    def _analytics(self, character, accounts, rng, days: int) -> None:
        today = timezone.localdate()
        rows = []
        for account in accounts:
            followers = account.follower_count * 0.7
            for back in range(days, 0, -1):
                day = today - dt.timedelta(days=back)
                followers *= 1 + rng.uniform(-0.002, 0.012)
                rate = rng.uniform(1.5, 6.5)
                for metric, value in (
                    ("follower_count", followers),
                    ("engagement_rate", rate),
                    ("likes_count", rng.randint(100, 9000)),
                    ("views_count", rng.randint(1000, 80000)),
                ):
                    rows.append(
                        Analytics(
                            character=character,
                            platform_account=account,
                            platform=account.platform,
                            metric_date=day,
                            metric_type=metric,
                            metric_value=Decimal(f"{value:.2f}"),
                        )
                    )
        Analytics.objects.bulk_create(rows, batch_size=2000)
