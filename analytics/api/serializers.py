from rest_framework import serializers

from analytics.models import Analytics
from characters.models import Character
from config.api import FullCleanModelSerializer


class AnalyticsSerializer(FullCleanModelSerializer):
    character = serializers.PrimaryKeyRelatedField(queryset=Character.objects.all())

    class Meta:
        model = Analytics
        fields = "__all__"


class SeriesQuerySerializer(serializers.Serializer):
    bucket = serializers.ChoiceField(
        choices=["day", "week", "month"], default="day", required=False
    )


class SeriesPointSerializer(serializers.Serializer):
    bucket = serializers.DateField()
    total = serializers.DecimalField(max_digits=20, decimal_places=2)
    samples = serializers.IntegerField()
