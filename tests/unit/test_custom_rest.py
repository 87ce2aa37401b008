"""Custom REST templates: what is refused when saved, and how a request is filled in."""

from __future__ import annotations

import pytest

from synapsed import custom_rest
from synapsed.errors import SynapseError
from synapsed.protocol import ChatRequest, Message

BASE = {"body": '{"prompt": "{prompt}", "n": "{max_tokens}", "opts": {"t": "{temperature}", "stop": "{stop}"}}',
        "answer": "out.text"}


def _spec(**options: str) -> custom_rest.RestSpec:
    return custom_rest.parse_spec({**BASE, **options})


def test_whole_value_placeholders_take_typed_values_and_unset_ones_are_dropped() -> None:
    request = ChatRequest(messages=[Message("user", "hi")], max_output_tokens=5)
    assert custom_rest.render_body(_spec(), request, "m") == {"prompt": "hi", "n": 5, "opts": {}}


def test_text_placeholders_fill_inside_strings() -> None:
    spec = _spec(body='{"q": "[{model}] {system}: {prompt}"}')
    request = ChatRequest(messages=[Message("user", "hi")], system="sys")
    assert custom_rest.render_body(spec, request, "m7") == {"q": "[m7] sys: hi"}


def test_messages_placeholder_sends_role_and_content() -> None:
    spec = _spec(body='{"history": "{messages}"}')
    request = ChatRequest(messages=[Message("user", "a"), Message("assistant", "b"), Message("user", "c")])
    assert custom_rest.render_body(spec, request, "m")["history"][1] == {"role": "assistant", "content": "b"}


def test_key_goes_only_where_the_header_template_says() -> None:
    spec = _spec(headers='{"Authorization": "Token {key}", "X-Team": "a"}')
    assert spec.uses_key
    assert custom_rest.render_headers(spec, "k-123") == {"Authorization": "Token k-123", "X-Team": "a"}
    assert not _spec().uses_key


@pytest.mark.parametrize(("options", "field", "says"), [
    ({"headers": '["X-Api-Key"]'}, "options.headers", "JSON object"),
    ({"headers": '{"Host": "x"}'}, "options.headers", "Host"),
    ({"headers": '{"X-Key": "{token}"}'}, "options.headers", "{token}"),
    ({"body": '"{prompt}"'}, "options.body", "JSON object"),
    ({"method": "GET"}, "options.method", "not supported"),
    ({"answer": ""}, "options.answer", "is required"),
    ({"input_tokens": "usage..in"}, "options.input_tokens", "JMESPath"),
    ({"check_url": "ftp://x"}, "options.check_url", "http"),
])
def test_template_mistakes_name_the_option(options: dict[str, str], field: str, says: str) -> None:
    with pytest.raises(SynapseError) as caught:
        _spec(**options)
    assert caught.value.kind == "config_invalid" and caught.value.detail["field"] == field
    assert says in caught.value.message or says in (caught.value.hint or "")


def test_expressions_read_answers_and_counts() -> None:
    spec = _spec(input_tokens="usage.in", output_tokens="usage.out")
    document = {"out": {"text": "yes"}, "usage": {"in": 3, "out": 1}}
    assert custom_rest.search(spec, "answer", document) == "yes"
    assert custom_rest.search(spec, "input_tokens", document) == 3
    assert custom_rest.search(spec, "error", document) is None
