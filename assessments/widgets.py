"""Form widgets for the hot paths of list pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe


def _attrs(attrs: dict[str, Any]) -> str:
    """django/forms/widgets/attrs.html in Python: True is a bare name, False is left out."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(out)


class QuickSelect(forms.Select):
    """``forms.Select`` with the markup of Django's select.html, written without the
    template engine. The filter forms above the queue and the agent list hold dozens of
    options, and the default renderer includes two templates for each of them on every
    request: a few milliseconds of a page's time, for markup that never changes."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"', widget["name"]), _attrs(widget["attrs"]), ">"]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            for option in options:
                parts.append(
                    f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                    f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>"
                )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)


def quick_select(field: forms.Field, **attrs: Any) -> None:
    """Give a choice field of a form (after ``__init__``'s super()) a ``QuickSelect``
    with the same choices and attributes, plus ``attrs``."""
    old = field.widget
    field.widget = QuickSelect(attrs={**old.attrs, **attrs}, choices=getattr(old, "choices", ()))
    field.widget.is_required = old.is_required
