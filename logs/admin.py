"""Back-office for system logs (the audit trail is read, never edited), the
events outbox, outgoing webhooks with their delivery log, and e-mail
notifications."""

import json
import secrets

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from config.admin_site import (
    BigTableAdmin,
    ProjectAdmin,
    recent_filter,
    report,
    selected_count,
)
from logs.event_names import NOTIFIABLE_CHOICES
from logs.models import Event, Notification, SystemLog, Webhook, WebhookDelivery
from logs.outbox import events_retry
from logs.webhook_rules import masked_url
from logs.webhooks import webhook_deliveries_retry, webhook_send_test


@admin.register(SystemLog)
class SystemLogAdmin(BigTableAdmin):
    list_display = (
        "created_at",
        "log_level",
        "component",
        "short_message",
        "character",
    )
    list_filter = (
        "log_level",
        recent_filter("created_at", title="created", parameter="created"),
    )
    search_fields = ("message",)
    ordering = ("-created_at",)
    sortable_by = ("created_at", "log_level")
    list_select_related = ("character",)
    raw_id_fields = ("character", "platform_account", "content", "post")
    fields = (
        ("created_at", "log_level", "component"),
        "message",
        ("character", "platform_account"),
        ("content", "post"),
        "readable_metadata",
    )
    readonly_fields = (
        "created_at",
        "log_level",
        "component",
        "message",
        "character",
        "platform_account",
        "content",
        "post",
        "readable_metadata",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 100 else obj.message[:99] + "…"

    @admin.display(description="Metadata")
    def readable_metadata(self, obj):
        if not obj.metadata:
            return "-"
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
            json.dumps(obj.metadata, indent=2, sort_keys=True, ensure_ascii=False),
        )


@admin.register(Event)
class EventAdmin(BigTableAdmin):
    """The outbox: what happened, and whether its consumers have it (read-only;
    failed events can be queued again)."""

    list_display = ("created_at", "name", "status", "attempt_count", "character_id")
    list_filter = (
        "status",
        "name",
        recent_filter("created_at", title="created", parameter="created"),
    )
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    list_select_related = ()
    actions = ("retry",)
    fields = (
        ("created_at", "name", "status"),
        ("character_id", "attempt_count", "locked_until"),
        "error_message",
        "readable_payload",
    )
    readonly_fields = fields[0] + fields[1] + ("error_message", "readable_payload")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("logs.change_event")

    @admin.action(
        description="Queue selected failed events again", permissions=["retry"]
    )
    def retry(self, request, queryset):
        changed = events_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")

    @admin.display(description="Payload")
    def readable_payload(self, obj):
        return format_html(
            '<pre style="white-space:pre-wrap;margin:0">{}</pre>',
            json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False),
        )


# --- Outgoing webhooks -------------------------------------------------------------

SECRET_HELP = (
    "Shared with the receiver, which checks the X-AInfluencer-Signature header "
    "with it (README, 'Webhooks'). Stored encrypted and never shown again "
    "after saving: copy it now."
)


class WebhookForm(forms.ModelForm):
    """The secret is write-only: a fresh random one is offered on the add
    page; on the change page the box is empty and blank keeps the current."""

    events = forms.MultipleChoiceField(
        choices=NOTIFIABLE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    new_secret = forms.CharField(
        label="Secret",
        min_length=16,
        max_length=200,
        strip=True,
        help_text=SECRET_HELP,
    )

    class Meta:
        model = Webhook
        fields = ("name", "url", "events", "format", "is_active")
        widgets = {"url": forms.URLInput(attrs={"size": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["new_secret"]
        if self.instance.pk:
            field.required = False
            field.widget = forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password"}
            )
            field.help_text = (
                "Leave blank to keep the current secret; type a new one to "
                "replace it (never shown again after saving)."
            )
        else:
            # not saved yet: shown once, before the first save
            field.initial = secrets.token_urlsafe(32)
            field.widget.attrs.update({"size": 60, "autocomplete": "off"})

    def save(self, commit=True):
        if self.cleaned_data.get("new_secret"):
            self.instance.secret = self.cleaned_data["new_secret"]
        return super().save(commit)


@admin.register(Webhook)
class WebhookAdmin(ProjectAdmin):
    """Webhooks: Administrators only (the URL of a Slack or Discord webhook
    is itself a credential); the secret is write-only."""

    form = WebhookForm
    list_display = ("name", "shown_url", "format", "is_active", "event_list")
    list_filter = ("is_active", "format")
    search_fields = ("name",)
    ordering = ("name",)
    list_select_related = ()
    actions = ("send_test",)
    fields = ("name", "url", "events", "new_secret", "format", "is_active")

    def get_queryset(self, request):
        # the secret is never decrypted for a page
        return super().get_queryset(request).defer("secret")

    def has_view_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def has_module_permission(self, request):
        return self.has_change_permission(request)

    @admin.display(description="URL")
    def shown_url(self, obj):
        return masked_url(obj.url)

    @admin.display(description="Events")
    def event_list(self, obj):
        return ", ".join(obj.events)

    @admin.action(
        description="Send a test to the selected webhooks", permissions=["change"]
    )
    def send_test(self, request, queryset):
        hooks = list(queryset.only("id", "name", "format"))
        for hook in hooks:
            webhook_send_test(webhook=hook)
        self.message_user(
            request,
            f"Test queued for {len(hooks)} webhook(s); see the delivery log "
            "for the receivers' answers.",
            messages.SUCCESS,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BigTableAdmin):
    """The delivery log (read-only); failed deliveries can be sent again."""

    list_display = (
        "created_at",
        "webhook",
        "event_name",
        "status",
        "attempt_count",
        "last_response_code",
        "duration_ms",
        "short_error",
    )
    list_filter = (
        "status",
        "event_name",
        recent_filter("created_at", title="created", parameter="created"),
    )
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    list_select_related = ("webhook",)
    actions = ("retry",)
    fields = (
        ("created_at", "completed_at"),
        ("webhook", "event_name", "event_id"),
        ("status", "attempt_count", "locked_until"),
        ("last_response_code", "duration_ms"),
        "error_message",
        "response_excerpt",
        "readable_body",
    )
    readonly_fields = (
        "created_at",
        "completed_at",
        "webhook",
        "event_name",
        "event_id",
        "status",
        "attempt_count",
        "locked_until",
        "last_response_code",
        "duration_ms",
        "error_message",
        "response_excerpt",
        "readable_body",
    )

    def get_queryset(self, request):
        # the webhook's name only: its secret is never decrypted for a page
        return (
            super()
            .get_queryset(request)
            .select_related("webhook")
            .defer("webhook__secret", "webhook__url")
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("logs.change_webhookdelivery")

    @admin.action(
        description="Send selected failed deliveries again", permissions=["retry"]
    )
    def retry(self, request, queryset):
        changed = webhook_deliveries_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")

    @admin.display(description="Error")
    def short_error(self, obj):
        text = obj.error_message or ""
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description="Body sent")
    def readable_body(self, obj):
        try:
            text = json.dumps(json.loads(obj.body), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.body
        return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


@admin.register(Notification)
class NotificationAdmin(BigTableAdmin):
    """E-mail notifications: who is told what, and whether it went out."""

    list_display = (
        "created_at",
        "user",
        "event_name",
        "delivery",
        "status",
        "sent_at",
        "attempt_count",
    )
    list_filter = (
        "status",
        "delivery",
        "event_name",
        recent_filter("created_at", title="created", parameter="created"),
    )
    ordering = ("-created_at",)
    sortable_by = ("created_at",)
    list_select_related = ("user",)
    fields = (
        ("created_at", "occurred_at", "sent_at"),
        ("user", "event_name", "event_id"),
        ("delivery", "status", "attempt_count"),
        "summary",
        "error_message",
    )
    readonly_fields = (
        "created_at",
        "occurred_at",
        "sent_at",
        "user",
        "event_name",
        "event_id",
        "delivery",
        "status",
        "attempt_count",
        "summary",
        "error_message",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
