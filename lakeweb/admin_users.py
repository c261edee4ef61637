"""Users in Django admin, with who has two-factor sign-in and an action that resets it."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from .twofactor import mfa_reset

# A second factor is an app or a key; recovery codes alone do not sign anyone in.
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def _has_second_factor() -> Exists:
    return Exists(Authenticator.objects.filter(user=OuterRef("pk"), type__in=SECOND_FACTORS))


class TwoFactorFilter(admin.SimpleListFilter):
    title = "two-factor sign-in"
    parameter_name = "mfa"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Set up"), ("no", "Not set up")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() == "yes":
            return queryset.filter(_has_second_factor())
        if self.value() == "no":
            return queryset.exclude(_has_second_factor())
        return queryset


@admin.action(description="Reset two-factor sign-in (remove their app, keys and codes)")
def reset_two_factor(modeladmin: Any, request: HttpRequest, queryset: QuerySet[User]) -> None:
    actor = request.user if isinstance(request.user, User) else None
    for user in queryset:
        removed = mfa_reset(user=user, actor=actor)
        messages.info(request, f"{user.get_username()}: {removed} authenticator(s) removed.")


class LakewebUserAdmin(UserAdmin):
    """Django's user admin, plus a two-factor column and filter and the reset action."""

    list_display = ("username", "email", "first_name", "last_name", "is_staff", "two_factor")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups", TwoFactorFilter)
    actions = [reset_two_factor]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(has_mfa=_has_second_factor())

    @admin.display(boolean=True, description="Two-factor", ordering="has_mfa")
    def two_factor(self, obj: Any) -> bool:
        return bool(getattr(obj, "has_mfa", False))

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        # Resetting another's second factor is a change to their account.
        if not self.has_change_permission(request):
            actions.pop("reset_two_factor", None)
        return actions


admin.site.unregister(User)
admin.site.register(User, LakewebUserAdmin)
