"""Back-office for accounts, posts, the publishing queue and engagement."""

import datetime as dt
import mimetypes
import re
import time
import uuid
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV

from characters.models import Character
from config.admin_site import (
    BigTableAdmin,
    CharacterZoneMixin,
    ModelAdminMixinBase,
    ProjectAdmin,
    action_with_form,
    changelist_url,
    local_time_column,
    recent_filter,
    report,
    selected_count,
    without_fields,
)
from config.exceptions import InvalidTransition
from config.forms import WallClockDateTimeField
from config.json_limits import LimitedJSONField
from config.timezones import is_known_zone, zone_choices
from content.forms import ContentPickerField
from logs.scrub import scrub_text
from platforms import bulk_views, identity, oauth
from platforms.models import (
    EngagementAction,
    PlatformAccount,
    Post,
    PostingSlot,
    PostMetrics,
    PublishingHold,
    ScheduledPost,
)
from platforms.modes import Mode, is_assisted, platform_mode
from platforms.resources import ScheduledPostResource
from platforms.selectors import (
    MediaNotFound,
    account_best_times,
    assisted_engagement,
    assisted_media_file,
    assisted_posts,
    unknown_outcome_posts,
)
from platforms.services import (
    CREDENTIALS_PERMISSION,
    DuePosts,
    engagement_action_mark_done,
    engagement_actions_cancel,
    engagement_actions_retry,
    held_due_posts,
    platform_account_connect,
    platform_account_set_credentials,
    platform_account_test_connection,
    platform_accounts_disconnect,
    platform_accounts_mark_resync,
    platform_accounts_resume,
    publishing_hold_lift,
    publishing_hold_place,
    scheduled_post_mark_published,
    scheduled_posts_approve_caption,
    scheduled_posts_cancel,
    scheduled_posts_create,
    scheduled_posts_publish_now,
    scheduled_posts_reschedule,
    scheduled_posts_retry,
)
from platforms.templatetags.platform_modes import mode_badge

# Started connect flows live in the session under this key: state -> flow.
OAUTH_FLOWS = "platforms:oauth-flows"
# "Test connection" from the list calls each platform: a bounded batch, within
# a time budget under gunicorn's timeout (60 s).
TEST_CONNECTION_MAX = 20
TEST_CONNECTION_BUDGET = 40.0


def _origin(url: str) -> str | None:
    """scheme://host[:port] of an http(s) URL, for a CSP source list."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def short(text, length=60) -> str:
    text = text or ""
    return text if len(text) <= length else text[: length - 1] + "…"


# --- Platform accounts ---------------------------------------------------------------


class WriteOnlyTextarea(forms.Textarea):
    """Never renders a value: neither the stored secret nor what was typed."""

    def format_value(self, value):
        return ""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class PlatformAccountForm(forms.ModelForm):
    class Meta:
        model = PlatformAccount
        fields = "__all__"  # noqa: DJ007 (the admin narrows it to its fieldsets)


class CredentialsForm(PlatformAccountForm):
    """The account form with the write-only credential fields."""

    new_credentials = LimitedJSONField(
        required=False,
        label="Replace credentials",
        widget=WriteOnlyTextarea(
            attrs={"rows": 4, "cols": 60, "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text=(
            'A JSON object, e.g. {"access_token": "..."}. Write-only: the '
            "stored credentials are never shown. Leave empty to keep them."
        ),
    )
    clear_credentials = forms.BooleanField(
        required=False, help_text="Remove the stored credentials."
    )

    def clean_new_credentials(self):
        value = self.cleaned_data.get("new_credentials")
        if value in (None, ""):
            return None
        if not isinstance(value, dict) or not value:
            raise forms.ValidationError("Enter a non-empty JSON object.")
        return value

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("new_credentials") and cleaned.get("clear_credentials"):
            raise forms.ValidationError(
                "Either replace the credentials or clear them, not both."
            )
        return cleaned


class TelegramConnectForm(forms.Form):
    """A Telegram account is a bot posting to a channel: its token from
    @BotFather and the chat it posts to. Checked with getMe and getChat."""

    bot_token = forms.CharField(
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "size": 60}
        ),
        help_text="The token @BotFather gave the bot. Write-only: never shown again.",
    )
    chat_id = forms.CharField(
        max_length=100,
        strip=True,
        label="Channel or group",
        help_text=(
            "@channelname or the chat's numeric id (-100…). Add the bot to it as "
            "an administrator allowed to post."
        ),
    )

    def clean_bot_token(self):
        token = self.cleaned_data["bot_token"]
        if not re.fullmatch(r"\d{5,12}:[A-Za-z0-9_-]{30,}", token):
            # never echo what was typed: it may be a real token with a typo
            raise forms.ValidationError(
                "This is not a bot token (digits, a colon, then about 35 letters, "
                "digits, - or _)."
            )
        return token

    def clean_chat_id(self):
        chat = self.cleaned_data["chat_id"]
        if not re.fullmatch(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?\d{1,20}", chat):
            raise forms.ValidationError(
                "Enter @channelname or a numeric chat id such as -1001234567890."
            )
        return chat


@admin.register(PlatformAccount)
class PlatformAccountAdmin(CharacterZoneMixin, ProjectAdmin):
    form = PlatformAccountForm
    change_form_template = "admin/platforms/platformaccount/change_form.html"
    list_display = (
        "__str__",
        "character",
        "publishing_mode",
        # is_connected follows connection_status (filterable on the right)
        "connection_status",
        "followers",
        "has_credentials",
        "last_synced_local",
        "auto_posting_enabled",
    )
    list_filter = (
        "platform",
        "connection_status",
        "is_connected",
        "auth_type",
        "auto_posting_enabled",
    )
    search_fields = ("account_username", "character__name")
    ordering = ("character__name", "platform")
    list_select_related = ("character",)
    autocomplete_fields = ("character",)
    actions = (
        "connect",
        "test_connection",
        "disconnect",
        "mark_resync",
        "resume_publishing",
    )
    readonly_fields = (
        "has_credentials",
        "token_expires_at",
        "connection_error",
        "follower_count",
        "following_count",
        "post_count",
        "last_synced_at",
        "rate_limit_remaining",
        "rate_limit_reset_at",
        "last_rate_limit_hit_at",
        "last_activity_at",
        "created_at",
        "updated_at",
        "best_times",
    )
    base_fieldsets = (
        (
            None,
            {
                "fields": (
                    "character",
                    "platform",
                    ("account_username", "account_id"),
                    "account_url",
                    ("connection_status", "is_connected"),
                    "connection_error",
                )
            },
        ),
        (
            "Automation",
            {
                "fields": (
                    ("auto_posting_enabled", "posting_frequency"),
                    ("auto_engagement_enabled", "engagement_frequency"),
                )
            },
        ),
        (
            "Platform data (synced)",
            {
                "fields": (
                    ("follower_count", "following_count", "post_count"),
                    ("last_synced_at", "last_activity_at"),
                    (
                        "rate_limit_remaining",
                        "rate_limit_reset_at",
                        "last_rate_limit_hit_at",
                    ),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    last_synced_local = local_time_column("last_synced_at", "Last synced")

    @admin.display(description="Followers", ordering="follower_count")
    def followers(self, obj):
        return f"{obj.follower_count:,}"

    def can_manage_credentials(self, request) -> bool:
        return request.user.has_perm(CREDENTIALS_PERMISSION)

    def get_queryset(self, request):
        # auth_data is never loaded (nor decrypted) by the admin: only whether
        # there is one, computed by the database.
        return (
            super()
            .get_queryset(request)
            .defer("auth_data")
            .annotate(
                _has_credentials=ExpressionWrapper(
                    Q(auth_data__isnull=False), output_field=BooleanField()
                )
            )
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self.can_manage_credentials(request) and self.has_change_permission(
            request, obj
        ):
            kwargs["form"] = CredentialsForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(self.base_fieldsets)
        credentials = ["auth_type", ("has_credentials", "token_expires_at")]
        if self.can_manage_credentials(request) and self.has_change_permission(
            request, obj
        ):
            credentials += ["new_credentials", "clear_credentials"]
        fieldsets.insert(1, ("Credentials", {"fields": credentials}))
        if obj is None:
            return without_fields(fieldsets)
        return [*fieldsets, ("Best time to post", {"fields": ("best_times",)})]

    @admin.display(description="Best times")
    def best_times(self, obj):
        """The hours and weekdays that worked best for this account (one query:
        platforms.selectors.account_best_times)."""
        best = account_best_times(account_id=obj.pk)
        return render_to_string("admin/platforms/best_times.html", {"best": best})

    @admin.display(description="Credentials set", boolean=True)
    def has_credentials(self, obj):
        return getattr(obj, "_has_credentials", None)

    @admin.display(description="Publishing")
    def publishing_mode(self, obj):
        """Live, dry run or by hand (settings only: no query)."""
        mode = platform_mode(obj.platform)
        titles = {
            Mode.LIVE: "Posts go out on the platform.",
            Mode.DRY_RUN: "PLATFORM_DRY_RUN: posts are recorded, nothing is sent.",
            Mode.ASSISTED: "No API: a person publishes the posts (To post by hand).",
        }
        return mode_badge(mode, title=titles[mode])

    # --- connecting, testing --------------------------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path(
                "oauth/callback/",
                view(self.oauth_callback_view),
                name=f"{prefix}_oauth_callback",
            ),
            path(
                "<uuid:object_id>/connect/",
                view(self.connect_view),
                name=f"{prefix}_connect",
            ),
            path(
                "<uuid:object_id>/test-connection/",
                view(require_POST(self.test_connection_view)),
                name=f"{prefix}_test_connection",
            ),
            path(
                "<uuid:object_id>/slots/",
                self._page(bulk_views.slots_page),
                name=f"{prefix}_slots",
            ),
            *super().get_urls(),
        ]

    def _page(self, view):
        site = self.admin_site

        def with_context(request, **kwargs):
            return view(request, admin_context=site.each_context(request), **kwargs)

        return site.admin_view(with_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {**(extra_context or {})}
        account = (
            PlatformAccount.objects.filter(pk=object_id).only("pk", "platform").first()
            if _is_uuid(object_id)
            else None
        )
        if account is not None:
            extra.update(
                can_connect=self.can_connect(request, account),
                can_test_connection=self.has_change_permission(request, account),
                slots_url=reverse(
                    "admin:platforms_platformaccount_slots", args=[account.pk]
                ),
                publishing_mode=platform_mode(account.platform),
                by_hand_url=(
                    f"{reverse('admin:platforms_scheduledpost_by_hand')}"
                    f"?account={account.pk}"
                    if is_assisted(account.platform)
                    else None
                ),
            )
        return super().change_view(request, object_id, form_url, extra)

    def can_connect(self, request, account) -> bool:
        return (
            self.can_manage_credentials(request)
            and self.has_change_permission(request, account)
            and (
                account.platform == "telegram"
                or oauth.provider_for(account.platform) is not None
            )
        )

    def _account_or_404(self, request, object_id) -> PlatformAccount:
        account = get_object_or_404(
            PlatformAccount.objects.defer("auth_data").select_related("character"),
            pk=object_id,
        )
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        return account

    def _change_url(self, account) -> str:
        return reverse("admin:platforms_platformaccount_change", args=[account.pk])

    def connect_view(self, request, object_id):
        """GET: what connecting does (or the Telegram bot form); POST: start."""
        account = self._account_or_404(request, object_id)
        if not self.can_manage_credentials(request):
            raise PermissionDenied
        label = account.get_platform_display()
        if account.platform == "telegram":
            return self._telegram_connect(request, account)
        provider = oauth.provider_for(account.platform)
        if provider is None:
            self.message_user(
                request,
                f"{label} has no API to connect to: its posts are published by hand "
                "(To post by hand).",
                messages.WARNING,
            )
            return HttpResponseRedirect(self._change_url(account))
        missing = oauth.missing_settings(provider)
        if request.method == "POST" and not missing:
            try:
                started = oauth.begin(provider)
            except oauth.OAuthFailure as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(self._change_url(account))
            flows = _live_flows(request.session.get(OAUTH_FLOWS))
            # bound to this session, this user and this account
            flows[started.state] = {
                "account": str(account.pk),
                "platform": account.platform,
                "user": request.user.pk,
                "verifier": started.code_verifier,
                "started": time.time(),
            }
            request.session[OAUTH_FLOWS] = flows
            return HttpResponseRedirect(started.url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Connect {account}",
            "subtitle": None,
            "opts": self.opts,
            "original": account,
            "account": account,
            "provider": provider,
            "missing": missing,
            "redirect_uri": settings.OAUTH_REDIRECT_URI,
        }
        response = TemplateResponse(
            request, "admin/platforms/platformaccount/connect.html", context
        )
        # the Connect form's answer redirects to the provider: the page's CSP
        # (form-action 'self') lets that one origin through, nothing else
        origin = _origin(provider.authorize_url)
        if origin:
            response._csp_update = {"form-action": [origin]}  # type: ignore[attr-defined]
        return response

    def _telegram_connect(self, request, account):
        form = TelegramConnectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = {
                "bot_token": form.cleaned_data["bot_token"],
                "chat_id": form.cleaned_data["chat_id"],
            }
            try:
                who = identity.telegram(data)
            except identity.IdentityError as exc:
                form.add_error(None, f"{exc.message} Nothing was saved.")
            else:
                data["chat_id"] = who.account_id or data["chat_id"]
                platform_account_connect(
                    account=account,
                    auth_data=data,
                    identity=who,
                    auth_type=PlatformAccount.AuthType.API_KEY,
                    actor=request.user,
                )
                self.message_user(
                    request,
                    f"Connected: the bot @{who.details.get('bot_username')} posts to "
                    f"{who.name or who.username or who.account_id}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._change_url(account))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Connect {account}",
            "subtitle": None,
            "opts": self.opts,
            "original": account,
            "account": account,
            "form": form,
        }
        return TemplateResponse(
            request, "admin/platforms/platformaccount/connect.html", context
        )

    def oauth_callback_view(self, request):
        """Where every provider sends the browser back (OAUTH_REDIRECT_URI)."""
        flows = _live_flows(request.session.get(OAUTH_FLOWS))
        state = request.GET.get("state", "")
        flow = flows.pop(state, None) if state else None
        request.session[OAUTH_FLOWS] = flows  # a state is good for one callback
        changelist = reverse("admin:platforms_platformaccount_changelist")
        if flow is None or flow.get("user") != request.user.pk:
            self.message_user(
                request,
                "This connect answer does not match a connect started in this "
                "browser session (or it came back too late, or twice): nothing "
                "was changed. Start again with the account's Connect button.",
                messages.ERROR,
            )
            return HttpResponseRedirect(changelist)
        account = (
            PlatformAccount.objects.defer("auth_data")
            .filter(pk=flow["account"])
            .first()
        )
        if account is None or account.platform != flow["platform"]:
            self.message_user(
                request,
                "The account was deleted or changed platform while it was being "
                "connected: nothing was changed.",
                messages.ERROR,
            )
            return HttpResponseRedirect(changelist)
        if not self.can_connect(request, account):
            raise PermissionDenied
        provider = oauth.provider_for(account.platform)
        if provider is None:  # can_connect let only Telegram through without one
            raise PermissionDenied
        label = provider.label
        if request.GET.get("error"):
            reason = scrub_text(
                request.GET.get("error_description")
                or request.GET.get("error_reason")
                or ""
            )[:200]
            error = scrub_text(request.GET["error"])[:60]
            refused = error == "access_denied"
            self.message_user(
                request,
                (
                    f"{label} was not connected: the consent was refused"
                    if refused
                    else f"{label} was not connected: {error}"
                )
                + (f" ({reason})" if reason else "")
                + ". The account is unchanged.",
                messages.ERROR,
            )
            return HttpResponseRedirect(self._change_url(account))
        code = request.GET.get("code", "")
        if not code or len(code) > 2048:
            self.message_user(
                request,
                f"{label} sent no authorization code back: the account is unchanged.",
                messages.ERROR,
            )
            return HttpResponseRedirect(self._change_url(account))
        try:
            connected = oauth.complete(
                provider,
                code=code,
                code_verifier=flow.get("verifier"),
                account_id=account.account_id,
            )
        except oauth.OAuthFailure as exc:
            self.message_user(
                request,
                f"{label} was not connected: {exc.message} The account is unchanged.",
                messages.ERROR,
            )
            return HttpResponseRedirect(self._change_url(account))
        account = platform_account_connect(
            account=account,
            auth_data=connected.auth_data,
            identity=connected.identity,
            actor=request.user,
        )
        who = connected.identity
        self.message_user(
            request,
            f"Connected {label} account {who.username or who.account_id} "
            f"(id {who.account_id}).",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._change_url(account))

    def test_connection_view(self, request, object_id):
        account = self._account_or_404(request, object_id)
        self._report_test(request, account)
        return HttpResponseRedirect(self._change_url(account))

    def _report_test(self, request, account) -> None:
        result = platform_account_test_connection(account_id=account.pk)
        level = {"ok": messages.SUCCESS, "failed": messages.ERROR}.get(
            result.status, messages.WARNING
        )
        self.message_user(request, f"{account}: {result.message}", level)

    @admin.action(description="Connect the selected account…", permissions=["change"])
    def connect(self, request, queryset):
        accounts = list(queryset.defer("auth_data")[:2])
        if len(accounts) != 1:
            self.message_user(
                request, "Select exactly one account to connect.", messages.WARNING
            )
            return None
        account = accounts[0]
        if not self.can_connect(request, account):
            self.message_user(
                request,
                f"{account}: cannot be connected here"
                + (
                    " (its platform has no API: published by hand)."
                    if is_assisted(account.platform)
                    and oauth.provider_for(account.platform) is None
                    else " (connecting needs the 'manage credentials' permission)."
                ),
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:platforms_platformaccount_connect", args=[account.pk])
        )

    @admin.action(
        description="Test the connection of selected accounts", permissions=["change"]
    )
    def test_connection(self, request, queryset):
        accounts = list(queryset.defer("auth_data")[: TEST_CONNECTION_MAX + 1])
        # each test may wait for its platform up to the OAuth timeouts (twice
        # for Telegram): stop before the web server's own timeout would
        deadline = time.monotonic() + TEST_CONNECTION_BUDGET
        one_call = 2 * sum(settings.OAUTH_TIMEOUT)
        tested = 0
        for account in accounts[:TEST_CONNECTION_MAX]:
            if tested and time.monotonic() + one_call > deadline:
                break
            self._report_test(request, account)
            tested += 1
        if len(accounts) > tested:
            self.message_user(
                request,
                f"Tested {tested} of the selected accounts; select fewer to test "
                "the others.",
                messages.WARNING,
            )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        data = getattr(form, "cleaned_data", {})
        if not self.can_manage_credentials(request):
            return
        if data.get("new_credentials"):
            platform_account_set_credentials(
                account=obj, auth_data=data["new_credentials"], actor=request.user
            )
        elif data.get("clear_credentials"):
            platform_account_set_credentials(
                account=obj, auth_data=None, actor=request.user
            )

    @admin.action(description="Disconnect selected accounts", permissions=["change"])
    def disconnect(self, request, queryset):
        changed = platform_accounts_disconnect(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "disconnected")

    @admin.action(
        description="Mark selected accounts for re-sync", permissions=["change"]
    )
    def mark_resync(self, request, queryset):
        changed = platform_accounts_mark_resync(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "marked for re-sync")

    @admin.action(
        description="Reconnected: resume publishing on selected accounts",
        permissions=["change"],
    )
    def resume_publishing(self, request, queryset):
        """After staff fixed the credentials: waiting posts move again."""
        changed = platform_accounts_resume(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "resumed")


# Shown inline on the page (an <img>); anything else downloads. No SVG: it
# can carry script.
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _back_to_by_hand(request) -> str:
    """Where a by-hand form returns: its own page ("next", only an admin
    path), else the "To post by hand" page."""
    back = request.POST.get("next") or ""
    if back.startswith("/admin/"):
        return back
    return reverse("admin:platforms_scheduledpost_by_hand")


def _post_text(sp) -> str:
    return (sp.caption or "").strip()


def _messages_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for ms in exc.message_dict.values() for m in ms]
    return list(exc.messages)


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _live_flows(flows) -> dict:
    """The session's started connect flows, without those too old to finish
    (OAUTH_STATE_MAX_AGE) and at most the 5 newest."""
    if not isinstance(flows, dict):
        return {}
    oldest = time.time() - settings.OAUTH_STATE_MAX_AGE
    live = sorted(
        (
            (state, flow)
            for state, flow in flows.items()
            if isinstance(flow, dict) and flow.get("started", 0) >= oldest
        ),
        key=lambda item: item[1]["started"],
    )
    return dict(live[-5:])


class AccountJoinMixin(ModelAdminMixinBase):
    """Big tables whose rows show their account: join it without its secret."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        related = self.list_select_related
        if isinstance(related, list | tuple) and "platform_account" in related:
            qs = qs.select_related(*related).defer("platform_account__auth_data")
        return qs


# --- Posts ------------------------------------------------------------------------------


class AccountOfCharacterMixin(ModelAdminMixinBase):
    """Where the character is known (a saved row, or ?character=<id> on an add
    page, e.g. from the character's page), the account picker lists only that
    character's accounts (a plain select: a character has a handful). Else it
    stays an autocomplete, and a mismatch is refused by the form."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        raw = (
            obj.character_id
            if obj is not None
            else (request.POST.get("character") or request.GET.get("character"))
        )
        try:
            request._account_character = uuid.UUID(str(raw)) if raw else None
        except ValueError:
            request._account_character = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_autocomplete_fields(self, request):
        fields = super().get_autocomplete_fields(request)
        if getattr(request, "_account_character", None):
            return tuple(f for f in fields if f != "platform_account")
        return fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        character_id = getattr(request, "_account_character", None)
        if character_id:
            initial["character"] = character_id
        else:
            initial.pop("character", None)  # not an id: ignore, not a 500
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        character_id = getattr(request, "_account_character", None)
        if db_field.name == "platform_account" and character_id:
            kwargs["queryset"] = (
                PlatformAccount.objects.filter(character_id=character_id)
                .defer("auth_data")
                .order_by("platform")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Post)
class PostAdmin(AccountOfCharacterMixin, CharacterZoneMixin, BigTableAdmin):
    list_display = (
        "label",
        "character",
        "platform",
        "post_type",
        "status",
        "short_caption",
        "likes_count",
        "comments_count",
        "shares_count",
        "views_count",
        "published_local",
    )
    list_filter = (
        "status",
        "platform",
        "post_type",
        recent_filter("published_at", title="published", parameter="published"),
        recent_filter("updated_at", title="updated", parameter="updated"),
    )
    search_fields = ("caption",)
    ordering = ("-published_at",)
    sortable_by = ("published_local",)
    # what went out is a record: read-only once published or taken down
    # (Post.RECORD_STATUSES, ProjectAdmin.has_change_permission)

    published_local = local_time_column("published_at", "Published at")

    # Each has a partial index over published posts (idx_posts_engagement for
    # likes, idx_posts_comments/_shares/_views for the others).
    engagement_columns = (
        "likes_count",
        "comments_count",
        "shares_count",
        "views_count",
    )
    list_select_related = ("character",)
    autocomplete_fields = ("character", "platform_account")
    raw_id_fields = ("content",)
    readonly_fields = (
        "platform_post_id",
        "platform_post_url",
        "likes_count",
        "comments_count",
        "shares_count",
        "views_count",
        "last_engagement_sync_at",
        "last_synced_numbers",
        "retry_count",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "character",
                    "platform_account",
                    ("platform", "post_type", "status"),
                    "content",
                    "additional_content_ids",
                    "caption",
                    "hashtags",
                    "mentions",
                    "published_at",
                    "error_message",
                )
            },
        ),
        (
            "On the platform",
            {
                "fields": (
                    ("platform_post_id", "platform_post_url"),
                    ("likes_count", "comments_count", "shares_count", "views_count"),
                    ("last_engagement_sync_at", "retry_count"),
                    "last_synced_numbers",
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    @admin.display(description="Post")
    def label(self, obj):
        return obj.platform_post_id or str(obj.pk)[:8]

    @admin.display(description="Last synced numbers")
    def last_synced_numbers(self, obj):
        # The sync writes post_metrics; the columns above are the posts' copy,
        # refreshed every METRICS_FOLD_INTERVAL_MINUTES (one query, this page only).
        m = PostMetrics.objects.filter(post=obj).first()
        if m is None:
            return "never synced"
        return (
            f"{m.likes_count:,} likes, {m.comments_count:,} comments, "
            f"{m.shares_count:,} shares, {m.views_count:,} views "
            f"(synced {timezone.localtime(m.synced_at):%Y-%m-%d %H:%M %Z})"
        )

    def get_sortable_by(self, request):
        # Sorting all posts by likes is a top-N sort over the whole table (0.7 s
        # at 1M rows). Among published posts, idx_posts_engagement (partial,
        # WHERE status = 'published') gives the order: the engagement columns
        # column becomes sortable once the list is filtered to published posts.
        if request.GET.get("status__exact") == Post.Status.PUBLISHED:
            return (*self.sortable_by, *self.engagement_columns)
        return self.sortable_by

    @admin.display(description="Caption")
    def short_caption(self, obj):
        return short(obj.caption, 40)


# --- Scheduled posts ---------------------------------------------------------------


class RescheduleForm(forms.Form):
    scheduled_at = WallClockDateTimeField(
        label="New time",
        help_text="Posts that are scheduled, failed or cancelled move to this time.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        self.fields["scheduled_at"].label = f"New time ({zone})"


class ScheduledPostForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        label="Time zone",
        help_text=(
            "The zone the time above is entered and shown in; a new post takes "
            "its character's. Stored as UTC."
        ),
    )

    class Meta:
        model = ScheduledPost
        fields = "__all__"  # noqa: DJ007 (the admin narrows it to its fieldsets)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = self.fields["timezone"]
        assert isinstance(zones, forms.ChoiceField)
        zones.choices = zone_choices()
        field = self.fields.get("scheduled_at")
        if field is not None:
            field.label = f"Scheduled at ({timezone.get_current_timezone_name()})"
            field.help_text = (
                "On the wall clock of the time zone below; a time the clocks "
                "skip is refused, a time they show twice is the first of the two."
            )

    def clean_scheduled_at(self):
        value = self.cleaned_data["scheduled_at"]
        # The pk is a Python-side uuid4, so "new" is _state.adding; a new row's
        # created_at is the database's now(), not a value yet.
        adding = self.instance._state.adding
        earliest = timezone.now() if adding else self.instance.created_at
        if value is not None and value < earliest - dt.timedelta(minutes=1):
            raise forms.ValidationError(
                "Choose a time in the future."
                if adding
                else "A post cannot be scheduled before it was created."
            )
        return value

    def clean(self):
        data = super().clean() or {}
        content, character = data.get("content"), data.get("character")
        if content is not None and not content.is_approved:
            self.add_error("content", "Only approved content can be scheduled.")
        elif content is not None and character and content.character_id != character.pk:
            self.add_error("content", "This content belongs to another character.")
        return data


class CharacterChoiceForm(forms.Form):
    """The first step of scheduling a post: whose post it is."""

    character = forms.ModelChoiceField(
        queryset=Character.objects.all(),
        help_text=(
            "The post's accounts, time zone and content picker (its approved "
            "media) follow from the character."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.contrib.admin.widgets import AutocompleteSelect

        field = self.fields["character"]
        field.widget = AutocompleteSelect(
            ScheduledPost._meta.get_field("character"), admin.site
        )
        field.widget.choices = field.choices  # type: ignore[attr-defined]


@admin.register(PostMetrics)
class PostMetricsAdmin(BigTableAdmin):
    """The numbers each platform last reported per post (read-only: written by
    the metrics sync, copied into the posts' columns by the fold)."""

    list_display = (
        "post",
        "likes_count",
        "comments_count",
        "shares_count",
        "views_count",
        "synced_at",
    )
    # primary-key order: the table has no other index (HOT updates)
    ordering = ("pk",)
    sortable_by = ()
    list_select_related = ("post",)
    raw_id_fields = ("post",)
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScheduledPost)
class ScheduledPostAdmin(
    ImportExportMixin,
    AccountOfCharacterMixin,
    CharacterZoneMixin,
    AccountJoinMixin,
    BigTableAdmin,
):
    form = ScheduledPostForm
    # CSV import (a dry-run preview with each row's errors, then all rows
    # through scheduled_posts_create) and export (the list's filters)
    resource_classes = [ScheduledPostResource]
    formats = [CSV]
    list_display = (
        "scheduled_local",
        "character",
        "platform_account",
        "post_type",
        "state",
        "short_caption",
        "caption_status",
        "retry_count",
        "published_local",
    )
    list_filter = (
        "status",
        "caption_status",
        "post_type",
        "platform_account__platform",
        recent_filter("scheduled_at", title="scheduled", parameter="when", future=True),
        recent_filter("updated_at", title="updated", parameter="updated"),
    )
    search_fields = ("caption",)
    ordering = ("scheduled_at",)
    sortable_by = ("scheduled_local", "state", "published_local")
    list_select_related = ("character", "platform_account")
    autocomplete_fields = ("character", "platform_account", "automation_rule")
    # where the character is not known yet; else the picker of its media
    raw_id_fields = ("content",)
    actions = ("cancel", "reschedule", "publish_now", "retry_failed", "approve_caption")
    readonly_fields = (
        "caption_status",
        "retry_count",
        "locked_until",
        "published_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "character",
                    "platform_account",
                    ("scheduled_at", "timezone"),
                    "content",
                    "additional_content_ids",
                    "caption",
                    "hashtags",
                    "caption_status",
                    "post_type",
                    "automation_rule",
                )
            },
        ),
        (
            "Queue",
            {
                "fields": (
                    "status",
                    "error_message",
                    ("retry_count", "max_retries"),
                    ("locked_until", "published_at"),
                    ("created_at", "updated_at"),
                )
            },
        ),
    )

    scheduled_local = local_time_column(
        "scheduled_at", "Scheduled at", zone_of=lambda sp: sp.timezone
    )
    published_local = local_time_column(
        "published_at", "Published at", zone_of=lambda sp: sp.timezone
    )

    @admin.display(description="Status", ordering="status")
    def state(self, obj):
        return format_html(
            '<span class="state state-{}">{}</span>',
            obj.status,
            obj.get_status_display(),
        )

    def _operator_urls(self):
        """The calendar (page, feed, drop) and the composer."""
        from platforms import views

        site = self.admin_site

        def page(view):
            def with_context(request, **kwargs):
                return view(request, admin_context=site.each_context(request), **kwargs)

            return site.admin_view(with_context)

        return [
            path(
                "calendar/",
                page(views.calendar_page),
                name="platforms_scheduledpost_calendar",
            ),
            path(
                "calendar/events/",
                site.admin_view(views.calendar_events),
                name="platforms_scheduledpost_calendar_events",
            ),
            path(
                "calendar/move/",
                site.admin_view(views.calendar_move),
                name="platforms_scheduledpost_calendar_move",
            ),
            path(
                "compose/<uuid:character_id>/",
                page(views.composer_page),
                name="platforms_scheduledpost_compose",
            ),
        ]

    def entry_zone(self, request, obj):
        """A post's times are on its own zone's clock (a new post: the
        character's). A posted form is read in the zone it names."""
        posted = request.POST.get("timezone") if request.method == "POST" else None
        if is_known_zone(posted):
            return posted, "the time zone chosen for this post"
        if obj is not None and is_known_zone(obj.timezone):
            character_zone = self.character_zone(obj)
            why = "this post's time zone"
            if character_zone and character_zone != obj.timezone:
                why += f" (its character's is {character_zone})"
            return obj.timezone, why
        return super().entry_zone(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("timezone", timezone.get_current_timezone_name())
        return initial

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if getattr(request, "_account_character", None) is None and not (
            request.POST.get("character") or request.GET.get("character")
        ):
            return self._choose_character(request)
        return super().add_view(request, form_url, extra_context)

    def _choose_character(self, request):
        form = CharacterChoiceForm(request.GET or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Schedule a post: whose?",
            "subtitle": None,
            "form": form,
            "opts": self.opts,
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/platforms/choose_character.html", context
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        character_id = getattr(request, "_account_character", None)
        if db_field.name == "content" and character_id:
            current = getattr(request, "_zone_objects", {})
            obj = next(iter(current.values()), None) if current else None
            return ContentPickerField(
                character_id=character_id,
                current=obj.content if obj is not None and obj.content_id else None,
                label="Content",
                help_text=(
                    "The character's approved media, newest first (the "
                    "platform's rules are checked when you save)."
                ),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # The queue owns the state: the actions change it, with an audit row.
        return ("status", "error_message", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            # a new post goes through the one way posts are scheduled (the
            # form showed its rules: ScheduledPost.clean)
            scheduled_posts_create(posts=[obj])

    # --- assisted publishing: "To post by hand" --------------------------------

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("by-hand/", view(self.by_hand_view), name=f"{prefix}_by_hand"),
            path(
                "<uuid:object_id>/media/",
                view(self.media_view),
                name=f"{prefix}_media",
            ),
            path(
                "<uuid:object_id>/mark-published/",
                view(require_POST(self.mark_published_view)),
                name=f"{prefix}_mark_published",
            ),
            path(
                "<uuid:object_id>/retry/",
                view(require_POST(self.retry_view)),
                name=f"{prefix}_retry",
            ),
            *self._operator_urls(),
            *super().get_urls(),
        ]

    def by_hand_view(self, request):
        """Posts and engagement of platforms without an adapter, for a person:
        the media to download, the caption and hashtags to copy, and "mark
        published" with the post's URL; and the posts whose outcome is unknown,
        to look for on their platform, then record by link or send again. A
        constant number of queries."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        account = None
        raw = request.GET.get("account")
        if raw:
            if not _is_uuid(raw):
                raise Http404("No such account.")
            account = get_object_or_404(
                PlatformAccount.objects.defer("auth_data").select_related("character"),
                pk=raw,
            )
        now = timezone.now()
        overdue = now - dt.timedelta(minutes=settings.ASSISTED_OVERDUE_MINUTES)
        posts = [
            {
                "sp": sp,
                "due": sp.scheduled_at <= now,
                "overdue": sp.scheduled_at < overdue,
                "text": _post_text(sp),
                "hashtags": " ".join(
                    f"#{t.lstrip('#')}" for t in sp.hashtags or [] if t
                ),
                "approved": sp.content is None or sp.content.is_approved,
                "image": bool(
                    sp.content
                    and sp.content.content_type == "image"
                    and (sp.content.mime_type or "").lower() in INLINE_IMAGE_TYPES
                ),
                "media": [
                    sp.content_id,
                    *(sp.additional_content_ids or []),
                ]
                if sp.content_id or sp.additional_content_ids
                else [],
            }
            for sp in assisted_posts(
                now=now, account_id=account.pk if account else None
            )
        ]
        actions = list(assisted_engagement(account_id=account.pk if account else None))
        unknown = list(
            unknown_outcome_posts(account_id=account.pk if account else None)
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "To post by hand"
            + (f": {account} of {account.character.name}" if account else ""),
            "subtitle": None,
            "opts": self.opts,
            "account": account,
            "posts": posts,
            "actions": actions,
            "unknown": unknown,
            "overdue_minutes": settings.ASSISTED_OVERDUE_MINUTES,
            "can_change": self.has_change_permission(request),
            "can_change_engagement": request.user.has_perm(
                "platforms.change_engagementaction"
            ),
        }
        return TemplateResponse(request, "admin/platforms/by_hand.html", context)

    def media_view(self, request, object_id):
        """One of the post's own media files, as a download (images inline for
        the page's preview). Nothing outside MEDIA_ROOT, never a listing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = request.GET.get("item")
        if item is not None and not _is_uuid(item):
            raise Http404("No such media.")
        try:
            target, mime, _ = assisted_media_file(
                scheduled_post_id=object_id,
                content_id=uuid.UUID(item) if item else None,
            )
        except MediaNotFound:
            raise Http404("No such media.") from None
        mime = (mime or mimetypes.guess_type(target.name)[0] or "").lower()
        inline = request.GET.get("inline") == "1" and mime in INLINE_IMAGE_TYPES
        response = FileResponse(
            target.open("rb"),
            as_attachment=not inline,
            filename=target.name,
            content_type=mime if inline else "application/octet-stream",
        )
        # whatever the file holds, it never runs as a page of this site
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    def mark_published_view(self, request, object_id):
        back = _back_to_by_hand(request)
        if not self.has_change_permission(request):
            raise PermissionDenied
        url = request.POST.get("url", "")
        try:
            post = scheduled_post_mark_published(
                scheduled_post_id=object_id, url=url, actor=request.user
            )
        except ScheduledPost.DoesNotExist:
            raise Http404("No such scheduled post.") from None
        except ValidationError as exc:
            self.message_user(request, " ".join(_messages_of(exc)), messages.ERROR)
        except InvalidTransition as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            self.message_user(
                request,
                f"Recorded as published: {post.platform_post_url}",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(back)

    def retry_view(self, request, object_id):
        """A failed post back in the queue (the "it did not go out" answer to
        an unknown outcome)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        back = _back_to_by_hand(request)
        if scheduled_posts_retry(
            queryset=ScheduledPost.objects.filter(pk=object_id), actor=request.user
        ):
            self.message_user(
                request, "Queued again: it goes out now.", messages.SUCCESS
            )
        else:
            self.message_user(
                request, "Not queued: the post is no longer failed.", messages.WARNING
            )
        return HttpResponseRedirect(back)

    @admin.display(description="Caption")
    def short_caption(self, obj):
        return short(obj.caption, 50)

    @admin.action(description="Cancel selected posts", permissions=["change"])
    def cancel(self, request, queryset):
        changed = scheduled_posts_cancel(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "cancelled")

    @admin.action(description="Reschedule selected posts...", permissions=["change"])
    def reschedule(self, request, queryset):
        count = selected_count(request)

        def apply(data):
            changed = scheduled_posts_reschedule(
                queryset=queryset, scheduled_at=data["scheduled_at"], actor=request.user
            )
            report(self, request, changed, count, "rescheduled")

        return action_with_form(
            self,
            request,
            queryset,
            form_class=RescheduleForm,
            title="Reschedule posts",
            submit_label="Reschedule",
            apply=apply,
        )

    @admin.action(description="Publish selected posts now", permissions=["change"])
    def publish_now(self, request, queryset):
        changed = scheduled_posts_publish_now(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "set to publish now")

    @admin.action(description="Retry selected failed posts", permissions=["change"])
    def retry_failed(self, request, queryset):
        changed = scheduled_posts_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")

    @admin.action(
        description="Approve the held captions of selected posts",
        permissions=["change"],
    )
    def approve_caption(self, request, queryset):
        changed = scheduled_posts_approve_caption(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "approved")


# --- Engagement actions ------------------------------------------------------------


@admin.register(EngagementAction)
class EngagementActionAdmin(AccountOfCharacterMixin, CharacterZoneMixin, BigTableAdmin):
    list_display = (
        "created_local",
        "character",
        "platform",
        "action_type",
        "status",
        "target_type",
        "target_id",
        "retry_count",
        "completed_local",
    )
    created_local = local_time_column("created_at", "Created")
    completed_local = local_time_column("completed_at", "Completed")
    list_filter = (
        "status",
        "platform",
        "action_type",
        recent_filter("created_at", title="created", parameter="created"),
    )
    search_fields = ("=target_id",)
    ordering = ("-created_at",)
    sortable_by = ("created_local", "status", "action_type", "platform")
    list_select_related = ("character",)
    autocomplete_fields = ("character", "platform_account")
    actions = ("cancel", "retry")
    readonly_fields = (
        "status",
        "text_job",
        "completed_at",
        "retry_count",
        "locked_until",
        "created_at",
    )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ("error_message", *self.readonly_fields)
        return self.readonly_fields

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<uuid:object_id>/mark-done/",
                self.admin_site.admin_view(require_POST(self.mark_done_view)),
                name=f"{prefix}_mark_done",
            ),
            *super().get_urls(),
        ]

    def mark_done_view(self, request, object_id):
        """A person performed an assisted engagement action by hand."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        back = _back_to_by_hand(request)
        if engagement_action_mark_done(action_id=object_id, actor=request.user):
            self.message_user(request, "Marked done.", messages.SUCCESS)
        else:
            self.message_user(
                request,
                "Not marked: the action is no longer pending, or its platform is "
                "handled by the engine.",
                messages.WARNING,
            )
        return HttpResponseRedirect(back)

    @admin.action(description="Cancel selected actions", permissions=["change"])
    def cancel(self, request, queryset):
        changed = engagement_actions_cancel(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "cancelled")

    @admin.action(description="Retry selected actions", permissions=["change"])
    def retry(self, request, queryset):
        changed = engagement_actions_retry(queryset=queryset, actor=request.user)
        report(self, request, changed, selected_count(request), "queued again")


# --- Publishing holds ------------------------------------------------------------


@admin.register(PublishingHold)
class PublishingHoldAdmin(ProjectAdmin):
    """Pause everything that sends; review and lift a hold after a restore."""

    list_display = ("created_at", "kind", "short_reason", "state", "lifted_at")
    list_filter = ("kind",)
    list_select_related = ()
    ordering = ("-created_at",)
    fields = (
        "kind",
        "reason",
        "backup_taken_at",
        "due_posts",
        "created_by",
        "lifted_at",
        "lifted_by",
        "lift_note",
    )
    # who placed and lifted it: set by the services from the request's user
    readonly_fields = ("due_posts", "created_by", "lifted_at", "lifted_by", "lift_note")
    actions = ("lift_publish", "lift_cancel")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # a hold is a record: what it said stays as it was
        return (*self.readonly_fields, "kind", "reason", "backup_taken_at")

    def get_changeform_initial_data(self, request):
        return {"kind": PublishingHold.Kind.MANUAL}

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        placed = publishing_hold_place(
            kind=obj.kind,
            reason=obj.reason,
            backup_taken_at=obj.backup_taken_at,
            actor=request.user,
        )
        obj.pk, obj.created_at = placed.pk, placed.created_at

    @admin.display(description="reason")
    def short_reason(self, obj) -> str:
        return short(obj.reason, 90)

    @admin.display(description="state")
    def state(self, obj) -> str:
        return "lifted" if obj.lifted_at else "ACTIVE: nothing is sent"

    @admin.display(description="posts to review")
    def due_posts(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "-"
        count = held_due_posts(obj).count()
        url = changelist_url(
            ScheduledPost,
            status__in="scheduled,processing",
            scheduled_at__lte=obj.created_at.isoformat(),
        )
        return format_html(
            '<a href="{}">{} post(s)</a> were due when this hold was placed and '
            "are not recorded as published: after a restore they may have gone out "
            "already. Check them on their platforms, then lift the hold with one "
            "of the two actions on the list of holds.",
            url,
            count,
        )

    def _lift(self, request, queryset, due_posts: str) -> None:
        lifted = cancelled = 0
        for hold in queryset.filter(lifted_at__isnull=True):
            cancelled += publishing_hold_lift(
                hold=hold, actor=request.user, due_posts=due_posts
            )
            lifted += 1
        text = f"{lifted} hold(s) lifted."
        if due_posts == DuePosts.CANCEL:
            text += f" {cancelled} due post(s) cancelled."
        self.message_user(
            request, text, messages.SUCCESS if lifted else messages.WARNING
        )

    @admin.action(
        description="Lift: the due posts did not go out, publish them",
        permissions=["change"],
    )
    def lift_publish(self, request, queryset):
        self._lift(request, queryset, DuePosts.PUBLISH)

    @admin.action(
        description="Lift: the due posts went out (or will be redone), cancel them",
        permissions=["change"],
    )
    def lift_cancel(self, request, queryset):
        self._lift(request, queryset, DuePosts.CANCEL)


# --- Posting slots -----------------------------------------------------------------


@admin.register(PostingSlot)
class PostingSlotAdmin(ProjectAdmin):
    """Every account's weekly slots; edit them per account (Posting slots on
    the account's page: one box of times per weekday)."""

    list_display = ("platform_account", "character", "weekday", "time")
    list_filter = ("weekday", "platform_account__platform")
    search_fields = ("platform_account__account_username",)
    ordering = ("platform_account", "weekday", "time")
    list_select_related = ("platform_account", "platform_account__character")
    autocomplete_fields = ("platform_account",)

    @admin.display(description="Character")
    def character(self, obj):
        return obj.platform_account.character.name

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer(
                "platform_account__auth_data",
            )
        )
