import django_filters as filters

from characters.models import Character
from config.filters import UTCDateTimeFilter


class CharacterFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")
    status = filters.ChoiceFilter(choices=Character.Status.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Character
        fields = ["name", "status", "is_active"]
