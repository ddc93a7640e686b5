"""Django's ModelBackend, with a user's permissions read once and kept in Redis.

Every API request checks model permissions. The stock backend reads user and
group permissions with two queries per request; here one query builds the set
and the cache keeps it (PERMISSION_CACHE_SECONDS). Any change to groups,
memberships or permissions bumps a version number that is part of the cache
key, so a revoked permission takes effect on the next request, in every
process (signals connected in config.apps).
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import Q

from config.cache import CacheUnavailable

PERMISSION_CACHE_SECONDS = 300
VERSION_KEY = "perms:version"


def _version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, 1, timeout=None)
        version = cache.get(VERSION_KEY) or 1
    return version


def permissions_changed(**kwargs) -> None:
    """Any permission, group or membership change: every cached set is stale."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, 2, timeout=None)
    except CacheUnavailable:
        # Redis is down: nothing is cached now; a set cached before the outage
        # lives at most PERMISSION_CACHE_SECONDS if Redis kept it (docs)
        pass


class OneQueryModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = f"perms:{_version()}:{user_obj.pk}:{int(user_obj.is_superuser)}"
            perms = cache.get(key)
            if perms is None:
                perms = self._load(user_obj)
                cache.set(key, perms, PERMISSION_CACHE_SECONDS)
            user_obj._perm_cache = perms
        return user_obj._perm_cache

    @staticmethod
    def _load(user_obj) -> set[str]:
        perms = Permission.objects.all()
        if not user_obj.is_superuser:
            perms = perms.filter(Q(user=user_obj) | Q(group__user=user_obj))
        return {
            f"{app}.{codename}"
            for app, codename in perms.values_list(
                "content_type__app_label", "codename"
            ).distinct()
        }
