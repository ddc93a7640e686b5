from django.db import transaction
from rest_framework import serializers

from characters.models import (
    Character,
    CharacterAppearance,
    CharacterPersonality,
    adult_only_message,
    is_adult,
)
from characters.services import character_create, character_profile_update
from config.api import FullCleanModelSerializer


class CharacterPersonalitySerializer(FullCleanModelSerializer):
    class Meta:
        model = CharacterPersonality
        exclude = ["id", "character"]

    def _clean_exclude(self):
        return ["character", "id"]


class CharacterAppearanceSerializer(FullCleanModelSerializer):
    class Meta:
        model = CharacterAppearance
        exclude = ["id", "character"]

    def _clean_exclude(self):
        return ["character", "id"]


class CharacterSerializer(FullCleanModelSerializer):
    personality = CharacterPersonalitySerializer(required=False)
    appearance = CharacterAppearanceSerializer(required=False)
    post_count = serializers.IntegerField(read_only=True)
    platform_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Character
        fields = "__all__"
        read_only_fields = ["deleted_at", "created_at", "updated_at"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # adult-only: the age and the personality of the same request together
        age = attrs.get("age", getattr(self.instance, "age", None))
        nested = attrs.get("personality") or {}
        if not is_adult(age):
            errors = {}
            if nested.get("flirtatiousness_level"):
                errors["flirtatiousness_level"] = [
                    f"{adult_only_message(age)} Set it to 0."
                ]
            if (nested.get("flirting_style") or "").strip():
                errors["flirting_style"] = [
                    f"{adult_only_message(age)} Leave it empty."
                ]
            if errors:
                raise serializers.ValidationError({"personality": errors})
        return attrs

    def validate_status(self, value):
        if value == Character.Status.DELETED:
            raise serializers.ValidationError("Use DELETE to delete a character.")
        return value

    @transaction.atomic
    def create(self, validated_data):
        personality = validated_data.pop("personality", None) or {}
        appearance = validated_data.pop("appearance", None) or {}
        # validate() ran full_clean on the character and the nested rows
        return character_create(
            personality=personality,
            appearance=appearance,
            clean=False,
            **validated_data,
        )

    @transaction.atomic
    def update(self, instance, validated_data):
        personality = validated_data.pop("personality", None)
        appearance = validated_data.pop("appearance", None)
        instance = super().update(instance, validated_data)
        return character_profile_update(
            character=instance,
            personality=personality,
            appearance=appearance,
            clean=False,  # the nested serializers validated them
        )
