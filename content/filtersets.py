import django_filters as filters
from django import forms

from config.filters import LiveCharacterFilter, UTCDateTimeFilter
from content.models import Content, ContentGeneration, TextGeneration


class TagListFilter(filters.Filter):
    """Comma-separated values matched against an array column (GIN index)."""

    field_class = forms.CharField

    def filter(self, qs, value):
        if not value:
            return qs
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items:
            return qs
        return qs.filter(**{f"{self.field_name}__{self.lookup_expr}": items})


class ContentFilterSet(filters.FilterSet):
    character = LiveCharacterFilter()
    content_type = filters.ChoiceFilter(choices=Content.ContentType.choices)
    approval_status = filters.ChoiceFilter(choices=Content.ApprovalStatus.choices)
    caption_status = filters.ChoiceFilter(choices=Content.CaptionStatus.choices)
    tags = TagListFilter(
        field_name="tags", lookup_expr="contains", help_text="Has all these tags."
    )
    tags_any = TagListFilter(
        field_name="tags", lookup_expr="overlap", help_text="Has any of these tags."
    )
    quality_score_min = filters.NumberFilter(
        field_name="quality_score", lookup_expr="gte"
    )
    quality_score_max = filters.NumberFilter(
        field_name="quality_score", lookup_expr="lte"
    )
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Content
        fields = ["character", "content_type", "approval_status", "is_nsfw"]


class ContentGenerationFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=ContentGeneration.Status.choices)
    job_type = filters.ChoiceFilter(choices=ContentGeneration.JobType.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ContentGeneration
        fields = ["character", "status", "job_type"]


class TextGenerationFilterSet(filters.FilterSet):
    status = filters.ChoiceFilter(choices=TextGeneration.Status.choices)
    purpose = filters.ChoiceFilter(choices=TextGeneration.Purpose.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = TextGeneration
        fields = ["character", "content", "status", "purpose"]
