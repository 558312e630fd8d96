"""Markdown of incident descriptions and timeline messages, rendered for the public pages and
e-mails: CommonMark with raw HTML escaped, unsafe link schemes (``javascript:`` and the like)
refused, no images (no tracking pixels in a status page or a mail) and no headings (a heading
in a message would break the outline of the page around it); a single newline is a line break,
as operators type in the admin."""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable(
    ["image", "heading", "lheading"]
)


def render(text: str | None) -> SafeString:
    """``text`` as HTML that is safe to put in a page as it is (empty for no text)."""
    if not text:
        return mark_safe("")
    return mark_safe(_renderer.render(text).strip())  # escaped by the renderer
