import django_filters as filters

from automation.models import AutomationRule


class AutomationRuleFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    trigger_type = filters.ChoiceFilter(choices=AutomationRule.TriggerType.choices)

    class Meta:
        model = AutomationRule
        fields = ["character", "is_enabled", "trigger_type", "name"]
