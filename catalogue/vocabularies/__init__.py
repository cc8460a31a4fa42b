"""Controlled vocabularies shipped as data files, one JSON file per vocabulary.

Each file: {"vocabulary": "<Vocabulary value>", "source": "...", "terms": [{"code", "label",
"external_code"?, "description"?}]}. `load_vocabularies` creates or updates the terms; it
runs in a migration and in `manage.py sync_vocabularies`.
"""

import json
from pathlib import Path

DIR = Path(__file__).resolve().parent


def vocabulary_files() -> list[Path]:
    return sorted(DIR.glob("*.json"))


def load_vocabularies(term_model) -> int:
    """Create or update every term of every vocabulary file; returns the number of terms."""
    count = 0
    for path in vocabulary_files():
        spec = json.loads(path.read_text(encoding="utf-8"))
        vocabulary = spec["vocabulary"]
        for term in spec["terms"]:
            term_model.objects.update_or_create(
                vocabulary=vocabulary,
                code=term["code"],
                defaults={
                    "label": term["label"],
                    "external_code": term.get("external_code", ""),
                    "description": term.get("description", ""),
                },
            )
            count += 1
    return count
