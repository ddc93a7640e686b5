"""The three staff groups and their permissions, shared by the admin and the API.

- Administrators: every permission.
- Operators: run characters day to day: content, generations, posts, schedules,
  rules, engagement; change characters and accounts. No delete of characters
  (a soft delete that hides one, see characters.services) or of accounts (a
  real delete: its posts and analytics go with it), no purge
  (characters.purge_character) and no credentials (platforms.manage_credentials).
- Analysts: read-only (view_* everywhere but webhooks, whose URLs are
  credentials).

`sync_groups` is idempotent. A migration runs it once and a post_migrate
handler runs it after every `migrate`, so permissions of models added later
reach the groups too.
"""

ADMINISTRATORS = "Administrators"
OPERATORS = "Operators"
ANALYSTS = "Analysts"

PROJECT_APPS = ("characters", "content", "platforms", "automation", "analytics", "logs")

# Read by Administrators only: a webhook's URL (Slack's, Discord's) is itself
# a credential.
ADMINISTRATORS_ONLY_VIEWS = ("view_webhook",)

# model label -> actions Operators get on it
OPERATOR_ACTIONS = {
    "characters.character": ("view", "add", "change"),
    "characters.characterpersonality": ("view", "add", "change"),
    "characters.characterappearance": ("view", "add", "change"),
    "content.content": ("view", "add", "change", "delete"),
    "content.contentgeneration": ("view", "add", "change", "delete"),
    # review what the persona wrote (approve or reject held text, retry)
    "content.textgeneration": ("view", "change"),
    "platforms.platformaccount": ("view", "change"),
    "platforms.post": ("view", "add", "change"),
    "platforms.scheduledpost": ("view", "add", "change", "delete"),
    "platforms.engagementaction": ("view", "add", "change", "delete"),
    # pause sending, and lift a hold after reviewing it (e.g. after a restore)
    "platforms.publishinghold": ("view", "add", "change"),
    "automation.automationrule": ("view", "add", "change", "delete"),
    "automation.automationrun": ("view",),
    "analytics.analytics": ("view",),
    "logs.systemlog": ("view",),
    "logs.event": ("view",),
    # what went out to webhooks and by e-mail (webhooks themselves, whose
    # URLs and secrets are credentials: Administrators only)
    "logs.webhookdelivery": ("view",),
    "logs.notification": ("view",),
}


def sync_groups(apps=None, **kwargs) -> None:
    from django.apps import apps as global_apps

    apps = apps or global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    project_perms = Permission.objects.filter(content_type__app_label__in=PROJECT_APPS)

    admins, _ = Group.objects.get_or_create(name=ADMINISTRATORS)
    admins.permissions.set(Permission.objects.all())

    analysts, _ = Group.objects.get_or_create(name=ANALYSTS)
    analysts.permissions.set(
        project_perms.filter(codename__startswith="view_").exclude(
            codename__in=ADMINISTRATORS_ONLY_VIEWS
        )
    )

    operators, _ = Group.objects.get_or_create(name=OPERATORS)
    wanted = []
    for label, actions in OPERATOR_ACTIONS.items():
        app_label, model = label.split(".")
        wanted += [
            p.pk
            for p in project_perms.filter(
                content_type__app_label=app_label,
                codename__in=[f"{a}_{model}" for a in actions],
            )
        ]
    operators.permissions.set(wanted)


def sync_groups_after_migrate(sender, **kwargs) -> None:
    if kwargs.get("plan") is not None and not kwargs.get("plan"):
        return
    sync_groups()
