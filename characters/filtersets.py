import django_filters as filters

from characters.models import Character


class CharacterFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains", help_text="Name contains.")
    status = filters.ChoiceFilter(choices=Character.Status.choices)
    created_after = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte"
    )
    created_before = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt"
    )

    class Meta:
        model = Character
        fields = ["name", "status", "is_active"]
