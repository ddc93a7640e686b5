from rest_framework import serializers

from automation.models import AutomationRule
from characters.models import Character
from config.api import FullCleanModelSerializer


class AutomationRuleSerializer(FullCleanModelSerializer):
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())

    class Meta:
        model = AutomationRule
        fields = "__all__"
        # Enabled/disabled through the enable/disable actions (audited).
        read_only_fields = ["is_enabled"]
