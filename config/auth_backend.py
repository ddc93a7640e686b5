"""Django's ModelBackend, with a user's permissions read once and kept in Redis.

Every API request checks model permissions. The stock backend reads user and
group permissions with two queries per request; here one query builds the set
and the cache keeps it (PERMISSION_CACHE_SECONDS). Any change to groups,
memberships or permissions bumps a version number stored with each cached set,
so a revoked permission takes effect on the next request, in every process
(signals connected in config.apps). The version and the user's set are read
together: one Redis round trip per request.
"""

import time

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import Q

from config import api_gate

PERMISSION_CACHE_SECONDS = 300
VERSION_KEY = api_gate.PERMS_VERSION_KEY


def _version() -> int:
    version = cache.get(VERSION_KEY)
    if version is None:
        # a Redis that lost the key starts from the clock, never from a
        # number a process may still hold (config.api_gate)
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY) or 1
    return version


def permissions_changed(**kwargs) -> None:
    """Any permission, group or membership change: every cached set is stale.

    With Redis down nothing is cached now; a set cached before the outage
    lives at most PERMISSION_CACHE_SECONDS if Redis kept it (docs)."""
    api_gate.bump(VERSION_KEY)


class OneQueryModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = f"perms:{user_obj.pk}:{int(user_obj.is_superuser)}"
            found = cache.get_many([VERSION_KEY, key])
            version = found.get(VERSION_KEY)
            if version is None:
                version = _version()
            cached = found.get(key)
            if isinstance(cached, tuple) and cached[0] == version:
                perms = cached[1]
            else:
                perms = self._load(user_obj)
                cache.set(key, (version, perms), PERMISSION_CACHE_SECONDS)
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
