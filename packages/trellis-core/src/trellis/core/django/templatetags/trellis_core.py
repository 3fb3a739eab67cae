"""Template filters for the dashboard."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def micros(total_ns: int, calls: int) -> str:
    """Mean microseconds per call, or a dash when never called."""
    if not calls:
        return "-"
    return f"{total_ns / calls / 1000:.1f}"


@register.filter
def millis(total_ns: int) -> str:
    """Nanoseconds as milliseconds with two decimals."""
    return f"{total_ns / 1e6:.2f}"
