"""allauth customisation: accounts made by admins, and login limits that cannot lock a lab out.

Failed logins are counted in three buckets, in the shared cache (allauth's
rate limits; ``CACHE_URL`` makes them hold across processes):

1. per (address, account) pair — the tight one, stops a guesser quickly;
2. per account, from any address — stops a guesser spread over many addresses;
3. per address, over all accounts — much looser, stops one address trying many accounts.

They are consumed in that order and an attempt refused by one bucket does not
count in the ones after it, so a flood against one account from a lab's NAT
spends at most the pair's allowance of the address bucket: colleagues behind
the same address still sign in. A successful login gives its attempt back.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal import ratelimit
from django.conf import settings
from django.http import HttpRequest

from .client_address import client_address

APP = "allauth.account"
# The actions of ACCOUNT_RATE_LIMITS (settings). The pair keeps allauth's own
# action name, so its rate is where allauth's documentation says it is.
PAIR, ACCOUNT, ADDRESS = "login_failed", "login_failed_account", "login_failed_address"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.LAKEWEB_OPEN_SIGNUP

    def get_client_ip(self, request: HttpRequest) -> str:
        return client_address(request)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        account = self._get_login_attempts_cache_key(request, **credentials)
        # get_ip: the client address, IPv6 cut to its /64 as allauth's per-address limits do,
        # so that one host rotating through its own network gains no fresh pair allowance.
        buckets = ((PAIR, f"{ratelimit.get_ip(request)}|{account}"), (ACCOUNT, account))
        spent: list[ratelimit.SingleRateLimitUsage] = []
        for action, key in (*buckets, (ADDRESS, None)):
            usage = ratelimit.consume(request, app=APP, action=action, key=key)
            if usage is None:
                # Refused: give back what the earlier buckets took, so that a
                # refused attempt costs nobody else anything.
                ratelimit.RateLimitUsage(usage=spent).rollback()
                raise self.validation_error("too_many_login_attempts")
            spent.extend(usage.usage)
        # allauth gives this back when the password was right.
        self._login_failed_rl_usage = ratelimit.RateLimitUsage(usage=spent)

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        # After a password reset (itself rate limited), the account starts afresh
        # from this address and from anywhere; the address bucket is left alone.
        account = self._get_login_attempts_cache_key(request, **credentials)
        pair = f"{ratelimit.get_ip(request)}|{account}"
        for action, key in ((PAIR, pair), (ACCOUNT, account)):
            ratelimit.clear(request, app=APP, action=action, key=key)
