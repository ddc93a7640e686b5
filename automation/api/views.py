from rest_framework import status

from automation import services
from automation.api.serializers import AutomationRuleSerializer
from automation.filtersets import AutomationRuleFilterSet
from automation.models import AutomationRule
from config.api import ModelViewSet, state_action
from config.exceptions import InvalidTransition


class AutomationRuleViewSet(ModelViewSet):
    queryset = AutomationRule.objects.all()
    serializer_class = AutomationRuleSerializer
    filterset_class = AutomationRuleFilterSet
    ordering_fields = ["created_at", "name", "next_run_at"]
    ordering = ["-created_at"]

    @state_action(AutomationRuleSerializer)
    def enable(self, request, pk=None):
        count = services.automation_rules_enable(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "The rule is already enabled.")

    @state_action(AutomationRuleSerializer)
    def disable(self, request, pk=None):
        count = services.automation_rules_disable(
            queryset=self.the_row(), actor=request.user
        )
        return self.changed(count, "The rule is already disabled.")

    @state_action(
        AutomationRuleSerializer, code=status.HTTP_202_ACCEPTED, url_path="run-now"
    )
    def run_now(self, request, pk=None):
        result = services.automation_rules_run_now(
            queryset=self.the_row(), actor=request.user
        )
        if result.busy:
            raise InvalidTransition(
                "A run of this rule is already queued or running; "
                "wait for it to finish."
            )
        return self.changed(
            len(result),
            "A disabled rule cannot be run; enable it first.",
            status.HTTP_202_ACCEPTED,
        )
