from automation.api.views import AutomationRuleViewSet
from config.api import router

router.register("automation-rules", AutomationRuleViewSet, basename="automationrule")
