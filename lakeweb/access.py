"""View decorators for the roles (SPEC §1).

Pages need login (``LoginRequiredMiddleware``); browsing pages may open to
anonymous visitors when ``LAKEWEB_PUBLIC_BROWSING`` is on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def can_browse(user: Any) -> bool:
    if user.is_authenticated:
        return user.has_perm("catalog.view_dataset")
    return settings.LAKEWEB_PUBLIC_BROWSING


def browse_required(view: View) -> View:
    """Viewers and up; anonymous visitors too when public browsing is on."""

    @login_not_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if can_browse(request.user):
            return view(request, *args, **kwargs)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied("Your account has no role yet: ask an admin to make you a viewer.")

    return wrapper


def permission_required(perm: str, message: str) -> Callable[[View], View]:
    """Logged-in users with ``perm``; others get 403 with ``message``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def staff_required(message: str) -> Callable[[View], View]:
    """Staff only (the admins of SPEC §1); others get 403 with ``message``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_staff:
                raise PermissionDenied(message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
