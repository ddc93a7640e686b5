from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from automation import services
from automation.api.serializers import AutomationRuleSerializer
from automation.filtersets import AutomationRuleFilterSet
from automation.models import AutomationRule
from config.api_schema import ErrorSerializer
from config.exceptions import InvalidTransition
from config.transitions import require_one

CONFLICT = {409: OpenApiResponse(ErrorSerializer, description="Not allowed now.")}


class AutomationRuleViewSet(viewsets.ModelViewSet):
    queryset = AutomationRule.objects.all()
    serializer_class = AutomationRuleSerializer
    filterset_class = AutomationRuleFilterSet
    ordering_fields = ["created_at", "name", "next_run_at"]
    ordering = ["-created_at"]

    def _one(self):
        return AutomationRule.objects.filter(pk=self.get_object().pk)

    def _answer(self, code=status.HTTP_200_OK):
        return Response(self.get_serializer(self.get_object()).data, status=code)

    @extend_schema(request=None, responses={200: AutomationRuleSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        count = services.automation_rules_enable(
            queryset=self._one(), actor=request.user
        )
        require_one(count, "The rule is already enabled.")
        return self._answer()

    @extend_schema(request=None, responses={200: AutomationRuleSerializer, **CONFLICT})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        count = services.automation_rules_disable(
            queryset=self._one(), actor=request.user
        )
        require_one(count, "The rule is already disabled.")
        return self._answer()

    @extend_schema(request=None, responses={202: AutomationRuleSerializer, **CONFLICT})
    @action(detail=True, methods=["post"], url_path="run-now")
    def run_now(self, request, pk=None):
        result = services.automation_rules_run_now(
            queryset=self._one(), actor=request.user
        )
        if result.busy:
            raise InvalidTransition(
                "A run of this rule is already queued or running; "
                "wait for it to finish."
            )
        require_one(len(result), "A disabled rule cannot be run; enable it first.")
        return self._answer(status.HTTP_202_ACCEPTED)
