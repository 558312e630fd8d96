"""``{% load statuspage_text %}``: ``{{ text|markdown }}`` renders an incident's or a
maintenance's Markdown safely (``checkstack.markdown``)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from checkstack import markdown as markdown_text

register = template.Library()


@register.filter(is_safe=True)
def markdown(text: str | None) -> SafeString:
    return markdown_text.render(text)
