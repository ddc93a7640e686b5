"""Characters (AI influencer personas), their personality and appearance."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models.functions import Length, Upper
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from config.fields import (
    choices_check,
    created_at,
    decimal_range,
    defaulted,
    range_check,
    unit_interval,
    updated_at,
    uuid_pk,
    validate_timezone,
)
from content.media_paths import validate_media_path

# Adult-only settings (flirting, NSFW content and generation jobs) need a known
# age of at least this. Enforced by model validation here and in content, by
# triggers in the database (content migration 0005) and by the publish step.
ADULT_AGE = 18
ADULT_ONLY = "Adult-only: the character's age must be {age} or more (it is {actual})."


def is_adult(age: int | None) -> bool:
    """Adult-only settings need a known age of ADULT_AGE or more."""
    return age is not None and age >= ADULT_AGE


def adult_only_message(age: int | None) -> str:
    return ADULT_ONLY.format(
        age=ADULT_AGE, actual="not set" if age is None else str(age)
    )


class LiveCharacterManager(models.Manager["Character"]):
    """Hides soft-deleted characters.

    Deleting goes through `characters.services` (soft delete, purge); the ORM's
    own `delete()` is left as Django has it: a real delete.
    """

    def get_queryset(self) -> models.QuerySet["Character"]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class AllCharacterManager(models.Manager["Character"]):
    """Sees soft-deleted characters too (admin 'deleted' filter, purge, audits)."""


class CharacterStatus(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"
    ERROR = "error"
    DELETED = "deleted"


class Character(models.Model):
    """An AI influencer persona run by the agency."""

    Status = CharacterStatus

    id = uuid_pk()
    name = models.CharField(max_length=255)
    bio = models.TextField(null=True, blank=True)
    age = models.IntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(150)]
    )
    location = models.CharField(max_length=255, null=True, blank=True)
    timezone = models.CharField(
        max_length=50, validators=[validate_timezone], **defaulted("UTC")
    )
    interests = ArrayField(models.TextField(), null=True, blank=True)
    profile_image_url = models.TextField(
        null=True, blank=True, validators=[URLValidator()]
    )
    # relative to MEDIA_ROOT (content.media_paths)
    profile_image_path = models.TextField(
        null=True, blank=True, validators=[validate_media_path]
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, **defaulted(Status.ACTIVE)
    )
    is_active = models.BooleanField(**defaulted(True))
    created_at = created_at()
    updated_at = updated_at()
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveCharacterManager()
    all_objects = AllCharacterManager()

    class Meta:
        db_table = "characters"
        ordering = ["name"]
        # Related lookups (a post's character) must still find a soft-deleted one.
        base_manager_name = "all_objects"
        # characters.services.character_bulk_purge from the admin: removing a
        # character and everything of it for good is not a plain delete.
        permissions = [("purge_character", "Can purge deleted characters for good")]
        constraints = [
            choices_check("status", CharacterStatus, name="characters_status_check"),
            models.CheckConstraint(
                condition=models.Q(
                    GreaterThanOrEqual(Length("name"), 1),
                    LessThanOrEqual(Length("name"), 255),
                ),
                name="name_length_check",
                violation_error_message="name must be 1 to 255 characters long.",
            ),
            range_check(
                "age", 0, 150, table="characters", nullable=True, name="age_range_check"
            ),
            # Deviation: one truth for soft deletion (see docs/schema-deviations.md).
            models.CheckConstraint(
                condition=(
                    models.Q(
                        status="deleted", deleted_at__isnull=False, is_active=False
                    )
                    | (~models.Q(status="deleted") & models.Q(deleted_at__isnull=True))
                ),
                name="characters_soft_delete_check",
                violation_error_message=(
                    "A deleted character has status 'deleted', deleted_at set and "
                    "is_active off; no other character has deleted_at."
                ),
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="idx_characters_status"),
            models.Index(
                fields=["is_active"],
                name="idx_characters_active",
                condition=models.Q(is_active=True),
            ),
            models.Index(fields=["-created_at"], name="idx_characters_created"),
            models.Index(fields=["name"], name="idx_characters_name"),
            models.Index(
                fields=["deleted_at"],
                name="idx_characters_deleted",
                condition=models.Q(deleted_at__isnull=True),
            ),
            # Admin search: icontains compiles to UPPER(name::text) LIKE ...
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"), name="trgm_characters_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self._state.adding or is_adult(self.age):
            return
        # lowering the age (or clearing it) of a character that has adult-only
        # settings: one query over the three places they live
        found = (
            Character.all_objects.filter(pk=self.pk)
            .annotate(
                flirts=models.Exists(
                    CharacterPersonality.objects.filter(
                        character_id=models.OuterRef("pk")
                    ).filter(FLIRTING_Q)
                ),
                nsfw_content=models.Exists(
                    self.content.model.objects.filter(
                        character_id=models.OuterRef("pk"), is_nsfw=True
                    )
                ),
                nsfw_jobs=models.Exists(
                    self.generations.model.objects.filter(
                        character_id=models.OuterRef("pk"), is_nsfw=True
                    )
                ),
            )
            .values("flirts", "nsfw_content", "nsfw_jobs")
            .first()
        )
        if not found:
            return
        what = [
            label
            for present, label in (
                (found["flirts"], "a personality that flirts"),
                (found["nsfw_content"], "NSFW content"),
                (found["nsfw_jobs"], "NSFW generation jobs"),
            )
            if present
        ]
        if what:
            raise ValidationError(
                {
                    "age": f"{adult_only_message(self.age)} This character has "
                    f"{', '.join(what)}: remove those first, then change the age."
                }
            )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


PERSONALITY_TRAITS = (
    "extroversion",
    "creativity",
    "humor",
    "professionalism",
    "authenticity",
    "energy_level",
)


class CharacterPersonalityCommunicationStyle(models.TextChoices):
    CASUAL = "casual"
    PROFESSIONAL = "professional"
    FRIENDLY = "friendly"
    SASSY = "sassy"
    INSPIRATIONAL = "inspirational"


class CharacterPersonalityContentTone(models.TextChoices):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    EDGY = "edgy"
    HUMOROUS = "humorous"
    SERIOUS = "serious"


class CharacterPersonalityEmojiUsage(models.TextChoices):
    NONE = "none"
    MINIMAL = "minimal"
    MODERATE = "moderate"
    HEAVY = "heavy"


# A personality that flirts (adult-only).
FLIRTING_Q = models.Q(flirtatiousness_level__gt=0) | (
    models.Q(flirting_style__isnull=False) & ~models.Q(flirting_style="")
)


class CharacterPersonality(models.Model):
    """The personality traits and LLM settings of one character."""

    CommunicationStyle = CharacterPersonalityCommunicationStyle

    ContentTone = CharacterPersonalityContentTone

    EmojiUsage = CharacterPersonalityEmojiUsage

    TRAITS = PERSONALITY_TRAITS

    id = uuid_pk()
    character = models.OneToOneField(
        Character, on_delete=models.CASCADE, related_name="personality"
    )
    extroversion = unit_interval("0.5")
    creativity = unit_interval("0.5")
    humor = unit_interval("0.5")
    professionalism = unit_interval("0.5")
    authenticity = unit_interval("0.5")
    energy_level = unit_interval("0.5")
    communication_style = models.CharField(
        max_length=50, choices=CommunicationStyle.choices, null=True, blank=True
    )
    preferred_topics = ArrayField(models.TextField(), null=True, blank=True)
    content_tone = models.CharField(
        max_length=50, choices=ContentTone.choices, null=True, blank=True
    )
    emoji_usage = models.CharField(
        max_length=20, choices=EmojiUsage.choices, **defaulted(EmojiUsage.MODERATE)
    )
    llm_personality_prompt = models.TextField(null=True, blank=True)
    temperature = decimal_range("0.7", "0", "2")
    flirtatiousness_level = unit_interval("0.0")
    flirting_style = models.CharField(max_length=50, null=True, blank=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "character_personalities"
        verbose_name_plural = "character personalities"
        constraints = [
            *(
                range_check(t, 0, 1, table="character_personalities")
                for t in (*PERSONALITY_TRAITS, "flirtatiousness_level")
            ),
            range_check("temperature", 0, 2, table="character_personalities"),
            choices_check(
                "communication_style",
                CharacterPersonalityCommunicationStyle,
                name="communication_style_check",
                nullable=True,
            ),
            choices_check(
                "content_tone",
                CharacterPersonalityContentTone,
                name="content_tone_check",
                nullable=True,
            ),
            choices_check(
                "emoji_usage", CharacterPersonalityEmojiUsage, name="emoji_usage_check"
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_personalities_character"),
            models.Index(
                fields=["communication_style"],
                name="idx_personalities_style",
                condition=models.Q(communication_style__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Personality of {self.character_id}"

    @property
    def flirts(self) -> bool:
        return bool(self.flirtatiousness_level) or bool(
            (self.flirting_style or "").strip()
        )

    def clean(self) -> None:
        super().clean()
        # the admin's inline holds the (unsaved) character in memory
        known = self.character_id is not None or (
            CharacterPersonality.character.is_cached(self)
        )
        if not self.flirts or not known:
            return
        age = self.character.age
        if not is_adult(age):
            message = adult_only_message(age)
            errors = {}
            if self.flirtatiousness_level:
                errors["flirtatiousness_level"] = f"{message} Set it to 0."
            if (self.flirting_style or "").strip():
                errors["flirting_style"] = f"{message} Leave it empty."
            raise ValidationError(errors)


class CharacterAppearanceFaceConsistencyMethod(models.TextChoices):
    IP_ADAPTER = "ip-adapter", "IP-Adapter"
    INSTANTID = "instantid", "InstantID"
    FACEID = "faceid", "FaceID"
    LORA = "lora", "LoRA"
    NONE = "none", "None"


class CharacterAppearance(models.Model):
    """The physical attributes and image-generation settings of one character."""

    FaceConsistencyMethod = CharacterAppearanceFaceConsistencyMethod

    id = uuid_pk()
    character = models.OneToOneField(
        Character, on_delete=models.CASCADE, related_name="appearance"
    )
    face_reference_image_url = models.TextField(
        null=True, blank=True, validators=[URLValidator()]
    )
    # relative to MEDIA_ROOT (content.media_paths), like content files
    face_reference_image_path = models.TextField(
        null=True, blank=True, validators=[validate_media_path]
    )
    face_consistency_method = models.CharField(
        max_length=50,
        choices=FaceConsistencyMethod.choices,
        **defaulted(FaceConsistencyMethod.IP_ADAPTER),
    )
    lora_model_path = models.TextField(null=True, blank=True)
    face_consistency_weight = unit_interval("0.7")
    hair_color = models.CharField(max_length=50, null=True, blank=True)
    hair_style = models.CharField(max_length=50, null=True, blank=True)
    eye_color = models.CharField(max_length=50, null=True, blank=True)
    skin_tone = models.CharField(max_length=50, null=True, blank=True)
    body_type = models.CharField(max_length=50, null=True, blank=True)
    height = models.CharField(max_length=20, null=True, blank=True)
    age_range = models.CharField(max_length=20, null=True, blank=True)
    clothing_style = models.CharField(max_length=100, null=True, blank=True)
    preferred_colors = ArrayField(models.TextField(), null=True, blank=True)
    style_keywords = ArrayField(models.TextField(), null=True, blank=True)
    base_model = models.CharField(max_length=100, **defaulted("realistic-vision-v6"))
    negative_prompt = models.TextField(null=True, blank=True)
    default_prompt_prefix = models.TextField(null=True, blank=True)
    created_at = created_at()
    updated_at = updated_at()

    class Meta:
        db_table = "character_appearances"
        constraints = [
            range_check("face_consistency_weight", 0, 1, table="character_appearances"),
            choices_check(
                "face_consistency_method",
                CharacterAppearanceFaceConsistencyMethod,
                name="face_method_check",
            ),
        ]
        indexes = [
            models.Index(fields=["character"], name="idx_appearances_character"),
            models.Index(
                fields=["face_consistency_method"], name="idx_appearances_method"
            ),
        ]

    def __str__(self) -> str:
        return f"Appearance of {self.character_id}"
