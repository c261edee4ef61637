"""Uploaded files keep the name the browser sent, for views that check names (SPEC §5).

Django's multipart parser makes each file's name safe to save as it is: it
keeps what follows the last '/' or '\\', drops unprintable characters, and
skips a file named '..' altogether. So '../../etc/x.txt' arrives as 'x.txt',
'\\u202egnp.exe' as 'gnp.exe', and an upload cannot refuse what it never
sees. A view marked :func:`sent_file_names` gets each file with ``sent_name``,
its name as sent, and refuses or keeps it with its own checks
(``catalog.services.paths``); ``name`` stays Django's safe one.

The body must be parsed this way before anything reads it, and
CsrfViewMiddleware reads it in its ``process_view``: so
:class:`SentFileNamesMiddleware` comes before it.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParser
from django.utils.datastructures import MultiValueDict
from django.utils.encoding import force_str

# What a file whose safe name would be empty is called until its view refuses it.
UNNAMED = "unnamed"


def sent_file_names(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view whose uploaded files carry ``sent_name`` (see the module)."""
    view.sent_file_names = True  # type: ignore[attr-defined]
    return view


class SentNamesParser(MultiPartParser):
    """Django's parser; each file also keeps ``sent_name``, and none is skipped for its name."""

    _sent = ""
    # Set by MultiPartParser (the stubs do not declare them).
    _encoding: str
    _files: MultiValueDict[str, Any]

    def sanitize_file_name(self, file_name: str) -> str | None:
        self._sent = html.unescape(file_name)  # as Django reads it, before any part is cut
        return super().sanitize_file_name(file_name) or UNNAMED

    def handle_file_complete(self, old_field_name: str, counters: list[int]) -> None:
        field = force_str(old_field_name, self._encoding, errors="replace")
        before = len(self._files.getlist(field))
        super().handle_file_complete(old_field_name, counters)
        files = self._files.getlist(field)
        if len(files) > before:
            files[-1].sent_name = self._sent


class SentFileNamesMiddleware:
    """Parse the uploads of views marked :func:`sent_file_names` with :class:`SentNamesParser`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        if getattr(view, "sent_file_names", False):
            # The request parses its body lazily, through this method.
            request.parse_file_upload = _parser_for(request)  # type: ignore[method-assign]


def _parser_for(request: HttpRequest) -> Callable[..., Any]:
    def parse_file_upload(meta: Any, post_data: Any) -> Any:
        parser = SentNamesParser(meta, post_data, request.upload_handlers, request.encoding)
        return parser.parse()

    return parse_file_upload
