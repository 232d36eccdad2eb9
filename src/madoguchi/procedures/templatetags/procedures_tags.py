from django import template

from madoguchi.procedures.answers import text_of

register = template.Library()


@register.filter
def get_item(mapping, key):
    """mapping[key] in a template (None when missing)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def text(value):
    """A {"ja": …, "en": …} text in the current language."""
    return text_of(value)
