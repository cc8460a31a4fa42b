"""Demo datasets, created through catalogue.services (filled in by the catalogue capability)."""


def load_catalogue(*, people: dict, holders: dict) -> dict:
    return {}
