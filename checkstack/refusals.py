"""Answers that turn a request away for now (429 locked out or throttled, 503 database down):
the API's JSON error body under ``/api/`` and ``/healthz``, a short HTML page elsewhere, both
with ``Retry-After``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html

API_PREFIXES = ("/api/", "/healthz")

_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>{}</title></head>"
    '<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto;'
    ' padding: 0 1rem; line-height: 1.5">'
    "<h1>{}</h1><p>{}</p><p>Try again in {} seconds.</p></body></html>"
)


def is_api_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES)


def refusal(
    request: HttpRequest, *, status: int, title: str, detail: str, retry_after: int
) -> HttpResponse:
    """``{"detail": ...}`` for API paths (the API's error shape), a short page otherwise."""
    response: HttpResponse
    if is_api_path(request):
        response = JsonResponse({"detail": detail}, status=status)
    else:
        page = format_html(_PAGE, title, title, detail, retry_after)
        response = HttpResponse(page, status=status, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(max(retry_after, 1))
    response["Cache-Control"] = "no-store"
    return response
