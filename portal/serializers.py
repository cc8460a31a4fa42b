"""The base of every API input serializer: a key the endpoint does not take is refused, not ignored.

A client that sends `status` to a dataset, or misspells `lay_sumary`, must learn that nothing
happened to that key; silently dropping it hides bugs and probing alike. Query-parameter filters
do not use this base: a URL may carry parameters meant for someone else (pagination, a cache
buster, a tracking tag), and an unknown parameter changes nothing that the caller could believe
was stored.
"""

from collections.abc import Mapping

from rest_framework import serializers

UNKNOWN_FIELD = "Unknown or read-only field."


class StrictInputMixin:
    """Refuses, with a 400 naming each one, every key that is not a writable field of this serializer
    (nested serializers built on this base refuse theirs, under their path)."""

    def to_internal_value(self, data):
        unknown = []
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in writable)
        errors = {name: [UNKNOWN_FIELD] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not errors or not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**exc.detail, **errors}) from exc
        if errors:
            raise serializers.ValidationError(errors)
        return value


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """An endpoint's input: only the declared writable fields are accepted."""


class InputModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    """An endpoint's input shaped after a model: only the declared writable fields are accepted."""
