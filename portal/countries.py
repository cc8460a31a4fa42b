"""Countries: ISO 3166-1 alpha-2 codes are stored; people see and choose names (django-countries'
maintained list). Used by the sign-up, project and data-holder forms, the API and the pages."""

from django_countries import countries


def country_name(code: str) -> str:
    """The country's name ("Latvia" for "LV"); an unknown or empty code is returned as it is."""
    code = (code or "").strip().upper()
    return countries.name(code) or code


def is_country(code: str) -> bool:
    return bool(code) and code.upper() in countries


def country_choices(*, blank: str = "") -> list[tuple[str, str]]:
    """(code, name) for a select, by name; with `blank`, a first empty choice so nothing is preselected."""
    choices = [(code, str(name)) for code, name in countries]
    return [("", blank), *choices] if blank else choices
