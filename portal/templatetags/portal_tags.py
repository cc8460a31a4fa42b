from django import template

register = template.Library()


@register.filter
def country(code: str) -> str:
    """An ISO country code as its name, e.g. LV as Latvia."""
    from portal.countries import country_name

    return country_name(code)


@register.filter
def payload_items(payload) -> list[tuple[str, str]]:
    """An audit payload as readable "key: value" pairs (lists joined with commas)."""
    if not isinstance(payload, dict):
        return [("", str(payload))]
    items = []
    for key, value in payload.items():
        if isinstance(value, list | tuple):
            value = ", ".join(str(v) for v in value) or "—"
        elif value is None:
            value = "—"
        items.append((key.replace("_", " "), str(value)))
    return items
