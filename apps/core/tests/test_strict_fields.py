"""Serializer fields take only their own JSON type (apps/core/strict_fields.py)."""

import uuid

import pytest
from django.http import QueryDict
from rest_framework import serializers


class Body(serializers.Serializer):
    text = serializers.CharField(max_length=5, required=False)
    flag = serializers.BooleanField(required=False)
    count = serializers.IntegerField(required=False)
    ratio = serializers.FloatField(required=False)
    ident = serializers.UUIDField(required=False)
    color = serializers.ChoiceField(choices=["red", "blue"], required=False)
    level = serializers.ChoiceField(choices=[1, 2], required=False)
    texts = serializers.ListField(child=serializers.CharField(), required=False)


def errors(data) -> dict:
    body = Body(data=data)
    assert not body.is_valid()
    return body.errors


@pytest.mark.parametrize(("field", "value", "message"), [
    ("text", 0, "must be a string, not a number"),
    ("text", True, "must be a string, not a boolean"),
    ("text", "ab" + " " * 10, "Ensure this field has no more than 5 characters."),
    ("flag", 0, "must be a boolean, not a number"),
    ("flag", "true", "must be a boolean, not a string"),
    ("count", "5", "must be an integer, not a string"),
    ("count", True, "must be an integer, not a boolean"),
    ("ratio", False, "must be a number, not a boolean"),
    ("ratio", "1.5", "must be a number, not a string"),
    ("ident", False, "must be a uuid string, not a boolean"),
    ("ident", 7, "must be a uuid string, not a number"),
    ("color", 0, "must be a string, not a number"),
])
def test_a_value_of_another_json_type_is_refused(field, value, message):
    assert errors({field: value}) == {field: [message]}


def test_list_items_are_checked_too():
    assert errors({"texts": ["a", 0]}) == {"texts": {1: ["must be a string, not a number"]}}


def test_values_of_the_right_type_pass():
    ident = uuid.uuid4()
    body = Body(data={"text": " ab ", "flag": False, "count": 5.0, "ratio": 2, "ident": str(ident),
                      "color": "red", "level": 2, "texts": ["x"]})
    assert body.is_valid(), body.errors
    assert body.validated_data == {"text": "ab", "flag": False, "count": 5, "ratio": 2.0, "ident": ident,
                                   "color": "red", "level": 2, "texts": ["x"]}


def test_form_data_keeps_drf_parsing():
    """Only JSON is strict: a QueryDict's values are all strings by nature."""
    body = Body(data=QueryDict("flag=true&count=5&ratio=1.5"))
    assert body.is_valid(), body.errors
    assert body.validated_data == {"flag": True, "count": 5, "ratio": 1.5}
