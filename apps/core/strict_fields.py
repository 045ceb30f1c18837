"""Strict JSON types for every DRF serializer field, installed once at start-up (CoreConfig.ready).

DRF's fields are lenient by design: 0 becomes "0" in a CharField, 0/1 and "yes" become booleans,
false becomes the nil uuid, "5" an integer, and a string over max_length only by surrounding
whitespace passes because trimming runs first. Every dialect documents JSON types in its schema
and real clients send them, so a value of another JSON type is a client bug that Drover must
refuse (400 naming the field), not guess at. Request bodies are the only input serializers see
(JSONParser is the only parser; query parameters are read by apps/core/torc.py), so the check
needs no "where did this come from" switch; a form-encoded QueryDict, should one ever reach a
serializer, keeps DRF's lenient parsing.

Patching the classes, rather than subclassing, covers fields declared in every app and the ones
ModelSerializer generates, with one rule per JSON type and no import to forget."""

import uuid

from django.http import QueryDict
from rest_framework import fields

_CHECKED = "_drover_strict"


def _from_json(field) -> bool:
    root = field.root
    return not isinstance(getattr(root, "initial_data", None), QueryDict)


def _integral(data) -> bool:
    if isinstance(data, bool):
        return False
    return isinstance(data, int) or (isinstance(data, float) and data.is_integer())


def _number(data) -> bool:
    return isinstance(data, (int, float)) and not isinstance(data, bool)


def _text(data) -> bool:
    return isinstance(data, str)


# field class -> (accepts the raw JSON value?, the error's name for the expected type)
RULES = [
    (fields.BooleanField, lambda data: isinstance(data, bool), "a boolean"),
    (fields.IntegerField, _integral, "an integer"),
    (fields.FloatField, _number, "a number"),
    (fields.DecimalField, lambda data: _number(data) or _text(data), "a number"),
    (fields.UUIDField, lambda data: _text(data) or isinstance(data, uuid.UUID), "a uuid string"),
    (fields.CharField, _text, "a string"),
    (fields.ChoiceField, lambda data: _text(data) or _number(data) or isinstance(data, bool), "one of the choices"),
]


def _strict(cls, accepts, expected: str):
    lenient = cls.to_internal_value

    def to_internal_value(self, data):
        if _from_json(self):
            if not accepts(data):
                raise fields.ValidationError(f"must be {expected}, not {_json_type(data)}", code="invalid")
            if isinstance(self, fields.CharField) and self.max_length is not None and len(data) > self.max_length:
                self.fail("max_length", max_length=self.max_length)  # before trimming, not after
            if isinstance(self, fields.ChoiceField) and not isinstance(data, str) and _all_text(self.choices):
                raise fields.ValidationError(f"must be a string, not {_json_type(data)}", code="invalid")
        return lenient(self, data)

    to_internal_value.__wrapped__ = lenient
    setattr(to_internal_value, _CHECKED, True)
    cls.to_internal_value = to_internal_value


def _all_text(choices) -> bool:
    return all(isinstance(key, str) for key in choices)


def _json_type(data) -> str:
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "a string"
    if isinstance(data, (list, tuple)):
        return "an array"
    if isinstance(data, dict):
        return "an object"
    return type(data).__name__


def install() -> None:
    """Idempotent: each class is wrapped once (subclasses that do not override inherit the wrapper)."""
    for cls, accepts, expected in RULES:
        if not getattr(cls.__dict__.get("to_internal_value"), _CHECKED, False):
            _strict(cls, accepts, expected)
