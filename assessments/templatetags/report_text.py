"""Filters for text the PDF reports print."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

FSI, PDI = "\u2068", "\u2069"


@register.filter
def isolate(value: Any) -> str:
    """``value`` as a bidirectional isolate (FSI … PDI): a name written right to left, or
    mixing directions ("خزينة (ERP v2)"), takes its own direction from its first strong
    letter and leaves the sentence around it as it is, brackets and full stop included.
    WeasyPrint has no ``unicode-bidi: isolate``; the isolate characters do the same."""
    text = "" if value is None else str(value)
    return f"{FSI}{text}{PDI}" if text else text
