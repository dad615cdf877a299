"""The request parsing of the API, without a server (the handlers' tests cover the wiring)."""

from __future__ import annotations

import pytest

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.server import parsing


@pytest.mark.parametrize("text, ids", [("1", [1]), ("1,2,5-7", [1, 2, 5, 6, 7]), ("3, 1-2 ,3", [3, 1, 2]),
                                       ("7-7", [7])])
def test_ids_and_ranges(text, ids):
    assert parsing.parse_ids(text) == ids


@pytest.mark.parametrize("text, bad", [("abc", "abc"), ("1,,2", ""), ("0", "0"), ("01", "01"), ("5-3", "5-3"),
                                       ("1-", "1-"), ("-1", "-1"), ("1-999999999", "1-999999999")])
def test_bad_ids_are_gflows_message(text, bad):
    with pytest.raises(InvalidSpec) as e:
        parsing.parse_ids(text)
    assert str(e.value) == f"Invalid job ID: {bad}"


def test_many_ranges_are_bounded_too():
    with pytest.raises(InvalidSpec, match="Too many job IDs"):
        parsing.parse_ids(",".join(f"{i * 90_000 + 1}-{(i + 1) * 90_000}" for i in range(3)))


def test_submit_fields_keep_nulls_out_and_name_the_field():
    assert parsing.submit_args({"command": "echo hi", "name": None, "gpus": "0,1", "retry_delay": "30s"}) == \
        {"command": "echo hi", "gpus": "0,1", "retry_delay": 30.0}
    assert parsing.submit_args({"command": ["a"], "retry_delay": 5, "retry_max_delay": "1:00:00"})["retry_max_delay"] \
        == 3600.0
    for body, message in [({"priority": 1.5}, 'Field "priority" must be an integer, got a number'),
                          ({"priority": True}, 'Field "priority" must be an integer, got a boolean'),
                          ({"priority": 2**64}, 'Field "priority" is out of range'),
                          ({"retry_delay": -1}, 'Field "retry_delay" must be 0 or more'),
                          ({"retry_delay": "soon"}, 'Field "retry_delay" must be a duration'),
                          ({"retry_backoff": 0.5}, 'Field "retry_backoff" must be from 1 to 100, got 0.5'),
                          ({"command": ["a", 1]}, 'Field "command" must be a list of strings or a string'),
                          ({"name": "a\0b"}, 'Field "name" contains a NUL character'),
                          ({"env": {"1X": "y"}}, 'Field "env": "1X" is not a variable name'),
                          ({"depends_on": []}, 'Field "depends_on" must be a job id'),
                          ({"array": "1-"}, 'Field "array": --array expects indices like'),
                          ({"array": 3}, 'Field "array" must be a string'),
                          ({"nope": 1}, 'Unknown field "nope" for a submission')]:
        with pytest.raises(InvalidSpec) as e:
            parsing.submit_args(body)
        assert str(e.value).startswith(message), (body, str(e.value))


def test_json_body():
    assert parsing.json_body(b"") == {} and parsing.json_body(b' {"a": 1} ') == {"a": 1}
    for raw, message in [(b"[", "Malformed JSON in the request body"), (b"[]", "must be a JSON object, got a list"),
                         (b"\xff", "Malformed JSON"), (b"[" * 100_000, "Malformed JSON")]:
        with pytest.raises(InvalidSpec, match=message):
            parsing.json_body(raw)


def test_query_values():
    assert parsing.query_bool("all", None, True) is True and parsing.query_bool("all", "0", True) is False
    assert parsing.query_int("limit", "10**3".replace("**3", "")) == 10
    assert parsing.query_int("offset", str(10**30)) == 2**62  # clamped, never an overflow in a seek
    assert parsing.query_history(None) is False and parsing.query_history("1") is True
    assert parsing.query_history("90") == 90.0
    with pytest.raises(InvalidSpec, match='"history"'):
        parsing.query_history("-5")
    assert parsing.query_list(" a, ,b ") == ["a", "b"] and parsing.query_list("") is None
