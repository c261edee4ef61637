"""A user's permissions read in one query per request, not two.

Every page asks what the user may do (the browse check, the navigation, the
actions shown). Django's ModelBackend reads the user's own permissions and
their groups' in two queries; this backend reads both at once and keeps them
on the user object for the request, under the name ModelBackend looks for, so
the backends after it ask nothing more. Nothing is kept across requests: a
role taken away counts from the next request.

Otherwise it is ModelBackend: it logs users in by username and password the
same way, and sessions made by ModelBackend stay valid (both are listed).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class OneQueryPermissions(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                permissions = Permission.objects.all()
            else:
                permissions = Permission.objects.filter(Q(user=user_obj) | Q(group__user=user_obj))
            pairs = permissions.values_list("content_type__app_label", "codename").order_by()
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in pairs}
        return user_obj._perm_cache
