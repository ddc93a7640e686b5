"""API tokens from the command line: create (shown once), list, revoke, prune."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from config.api_tokens import (
    api_token_create,
    api_tokens_live,
    api_tokens_prune,
    api_tokens_revoke,
)


class Command(BaseCommand):
    help = (
        "API tokens (stored hashed): `create USER [--days N]` prints a new token "
        "once; `list USER`; `revoke USER (--key PREFIX | --all)`; `prune` deletes "
        "expired ones."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "list", "revoke", "prune"])
        parser.add_argument("username", nargs="?")
        parser.add_argument(
            "--days",
            type=int,
            help="lifetime in days (default API_TOKEN_TTL_DAYS; 0: until revoked)",
        )
        parser.add_argument("--key", help="revoke the token starting with this")
        parser.add_argument("--all", action="store_true", help="revoke every token")

    def handle(self, *args, action, username, days, key, all, **options):
        if action == "prune":
            self.stdout.write(f"Deleted {api_tokens_prune()} expired token(s).")
            return
        if not username:
            raise CommandError(f"`api_token {action}` needs a username.")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if action == "create":
            if days is not None and days < 0:
                raise CommandError("--days cannot be negative.")
            try:
                row, token = api_token_create(user=user, days=days)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            expires = row.expiry.isoformat() if row.expiry else "never (revoke it)"
            self.stdout.write(
                f"Token for {username} (shown once, store it now): {token}\n"
                f"Expires: {expires}"
            )
        elif action == "list":
            for row in api_tokens_live(user=user).order_by("created"):
                expires = row.expiry.isoformat() if row.expiry else "never"
                self.stdout.write(
                    f"{row.token_key}…  created {row.created:%Y-%m-%d %H:%M}  "
                    f"expires {expires}"
                )
        else:
            if bool(key) == bool(all):
                raise CommandError("Give either --key PREFIX or --all.")
            if key and len(key) < 8:
                raise CommandError(
                    "--key needs the token's first 8 characters at least."
                )
            count = api_tokens_revoke(user=user, key=key)
            if key and not count:
                raise CommandError(f"{username} has no token starting with {key!r}.")
            self.stdout.write(f"Revoked {count} token(s) of {username}.")
