"""The OpenAI-compatible generator against a real local HTTP server (no real LLM, no network).

pytest-httpserver speaks /v1/chat/completions; a bare TCP listener plays a server that
never answers, a closed port one that refuses connections.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from dashboard.config import parse_settings
from dashboard.errors import GenerationFailed
from dashboard.generators.base import Draft, ask_deadline
from dashboard.generators.openai import (
    MAX_TOKENS,
    SYSTEM_RULES,
    OpenAIGenerator,
    UnusableReply,
    build_messages,
    parse_reply,
)

PATH = "/v1/chat/completions"
GOOD_SQL = "SELECT region, count(*) AS orders FROM demo.orders GROUP BY region"
GOOD = json.dumps({"sql": GOOD_SQL, "chart": "bar", "title": "Orders by region",
                   "explanation": "Counts orders per region."})


@dataclass(frozen=True)
class Context:
    """Stands in for catalog.SchemaContext: the generator reads only .text."""

    text: str = "demo.orders(id integer, region text)  -- one row per order"
    tables: tuple[str, ...] = ("demo.orders",)
    tokens: int = 20


def completion(content: str | None, *, finish: str = "stop", prompt_tokens: int = 120,
               completion_tokens: int = 30) -> dict:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "test-model",
        "choices": [{"index": 0, "finish_reason": finish,
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def make_generator(base_url: str, **env: str) -> OpenAIGenerator:
    settings = parse_settings({"OPENAI_BASE_URL": base_url, "OPENAI_MODEL": "test-model",
                               "OPENAI_TIMEOUT_S": "5", **env})
    return OpenAIGenerator(settings)


@pytest.fixture
def generator(httpserver: HTTPServer) -> OpenAIGenerator:
    return make_generator(httpserver.url_for("/v1"))


def bodies(httpserver: HTTPServer) -> list[dict]:
    return [request.get_json() for request, _ in httpserver.log]


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("text", [
    GOOD,
    f"```json\n{GOOD}\n```",
    f"```\n{GOOD}\n```",
    f"Sure! Here is the query you asked for:\n\n{GOOD}\n\nLet me know if you need more.",
    f"<think>The user wants orders {{per}} region.</think>\n{GOOD}",
    f"Here you go:\n```json\n{GOOD}\n```\nThe chart is a bar chart.",
])
def test_parse_reply_accepts_json_in_many_wrappings(text: str) -> None:
    fields = parse_reply(text)
    assert fields == {"sql": GOOD_SQL, "chart": "bar", "title": "Orders by region",
                      "explanation": "Counts orders per region."}


def test_parse_reply_normalises_fields() -> None:
    fields = parse_reply(json.dumps({"SQL": "```sql\nSELECT 1;\n```", "chart": "Donut",
                                     "title": "  a\n title ", "explanation": 42}))
    assert fields == {"sql": "SELECT 1", "chart": None, "title": "a title", "explanation": ""}
    assert parse_reply('{"query": "SELECT 2", "chart": "LINE"}')["chart"] == "line"


def test_parse_reply_falls_back_to_a_fenced_sql_block() -> None:
    text = "The query:\n```sql\nSELECT count(*) FROM demo.orders;\n```\nIt counts orders."
    assert parse_reply(text)["sql"] == "SELECT count(*) FROM demo.orders"
    assert parse_reply("SELECT 1")["sql"] == "SELECT 1"


@pytest.mark.parametrize("text", [
    "", "I cannot help with that.", '{"sql": ', '{"chart": "bar"}', '{"sql": ""}', "[1, 2]",
    "{" * 5000,
])
def test_parse_reply_rejects_replies_without_a_query(text: str) -> None:
    with pytest.raises(UnusableReply) as caught:
        parse_reply(text)
    assert caught.value.retryable
    assert "Traceback" not in caught.value.message


def test_parse_reply_refuses_an_enormous_reply() -> None:
    with pytest.raises(GenerationFailed) as caught:
        parse_reply(GOOD + " " * 100_000)
    assert not isinstance(caught.value, UnusableReply)
    assert "too long" in caught.value.message


def test_messages_hold_rules_schema_question_previous_and_feedback() -> None:
    previous = Draft(sql="SELECT 1 AS previous_query")
    messages = build_messages("orders by region", "SCHEMA-TEXT", feedback="column x missing",
                              previous=previous)
    assert messages[0] == {"role": "system", "content": SYSTEM_RULES}
    for needle in ("PostgreSQL", "one read-only SELECT", "schema-qualified",
                   "metric definitions", "qualify every column", "No LIMIT", '"sql"'):
        assert needle in SYSTEM_RULES
    assert "SCHEMA-TEXT" in messages[1]["content"]
    assert "Question: orders by region" in messages[1]["content"]
    assert "SELECT 1 AS previous_query" in messages[1]["content"]
    assert "column x missing" in messages[2]["content"]
    assert len(build_messages("q", "s")) == 2


# ----------------------------------------------------------------------------- over HTTP


def test_good_answer_records_tokens_and_sends_a_bounded_request(
        httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(completion(GOOD))
    draft = generator.generate("orders by region", Context())
    assert draft == Draft(sql=GOOD_SQL, chart="bar", title="Orders by region",
                          explanation="Counts orders per region.", prompt_tokens=120,
                          completion_tokens=30)
    (body,) = bodies(httpserver)
    assert body["model"] == "test-model"
    assert body["max_tokens"] == MAX_TOKENS <= 1024
    assert body["response_format"] == {"type": "json_object"}
    assert "demo.orders(id integer" in body["messages"][1]["content"]
    request, _ = httpserver.log[0]
    # A local server needs no key: the SDK gets a placeholder, never an empty header.
    assert request.headers["Authorization"] == "Bearer not-needed"
    assert (generator.name, generator.model) == ("openai", "test-model")


def test_fenced_and_chatty_answers_over_http(httpserver: HTTPServer,
                                             generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        completion(f"```json\n{GOOD}\n```"))
    httpserver.expect_ordered_request(PATH).respond_with_json(
        completion(f"Here is your answer: {GOOD} Hope it helps!"))
    assert generator.generate("q", Context()).sql == GOOD_SQL
    assert generator.generate("q", Context()).sql == GOOD_SQL


def test_invalid_json_is_a_retryable_error(httpserver: HTTPServer,
                                           generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(completion('{"sql": "SELECT 1", "chart'))
    with pytest.raises(UnusableReply) as caught:
        generator.generate("q", Context())
    assert "JSON" in caught.value.message


def test_429_then_success_retries_once(httpserver: HTTPServer,
                                       generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": "Rate limit reached", "type": "requests", "code": None}},
        status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request(PATH).respond_with_json(completion(GOOD))
    assert generator.generate("q", Context()).sql == GOOD_SQL
    assert len(httpserver.log) == 2


def test_429_twice_gives_up_after_one_retry(httpserver: HTTPServer,
                                            generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "0"})
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "rate-limiting" in caught.value.message
    assert len(httpserver.log) == 2


def test_500_then_success(httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_data("oops", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_json(completion(GOOD))
    assert generator.generate("q", Context()).sql == GOOD_SQL


def test_quota_exhausted_is_not_retried(httpserver: HTTPServer,
                                        generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                   "code": "insufficient_quota"}}, status=429)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "quota" in caught.value.message
    assert len(httpserver.log) == 1


def test_401_names_the_key_setting_but_never_the_key(httpserver: HTTPServer) -> None:
    generator = make_generator(httpserver.url_for("/v1"), OPENAI_API_KEY="sk-secret-123")
    httpserver.expect_request(PATH).respond_with_json(
        {"error": {"message": "Incorrect API key provided: sk-secret-123",
                   "code": "invalid_api_key"}}, status=401)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "OPENAI_API_KEY" in caught.value.message
    assert "sk-secret" not in caught.value.message
    assert len(httpserver.log) == 1


def test_404_model_names_the_model_setting(httpserver: HTTPServer,
                                           generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"error": {"message": "model 'test-model' not found"}}, status=404)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "OPENAI_MODEL" in caught.value.message and "'test-model'" in caught.value.message
    assert httpserver.url_for("/") not in caught.value.message


def test_server_without_json_mode_gets_a_request_without_it(
        httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": "'response_format' is not supported"}}, status=400)
    httpserver.expect_ordered_request(PATH).respond_with_json(completion(GOOD))
    httpserver.expect_ordered_request(PATH).respond_with_json(completion(GOOD))
    assert generator.generate("q", Context()).sql == GOOD_SQL
    assert generator.generate("q", Context()).sql == GOOD_SQL
    first, second, third = bodies(httpserver)
    assert "response_format" in first
    assert "response_format" not in second and "response_format" not in third


def test_reasoning_model_gets_max_completion_tokens(httpserver: HTTPServer,
                                                    generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with "
                              "this model. Use 'max_completion_tokens' instead."}}, status=400)
    httpserver.expect_ordered_request(PATH).respond_with_json(completion(GOOD))
    assert generator.generate("q", Context()).sql == GOOD_SQL
    second = bodies(httpserver)[1]
    assert second["max_completion_tokens"] == MAX_TOKENS and "max_tokens" not in second


def test_context_too_long_names_context_tokens(httpserver: HTTPServer,
                                               generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"error": {"message": "This model's maximum context length is 4096 tokens."}},
        status=400)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "CONTEXT_TOKENS" in caught.value.message
    assert len(httpserver.log) == 1


def test_enormous_reply_is_refused_with_a_clear_message(httpserver: HTTPServer,
                                                        generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(completion("x" * 3_000_000))
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "enormous" in caught.value.message


def test_long_but_bounded_reply_is_refused(httpserver: HTTPServer,
                                           generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(completion(GOOD + "\n" + "y" * 50_000))
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "too long" in caught.value.message


def test_cut_off_answer_says_so(httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        completion('{"sql": "SELECT region, count(*) FROM', finish="length"))
    httpserver.expect_ordered_request(PATH).respond_with_json(completion("", finish="length"))
    with pytest.raises(UnusableReply) as cut:
        generator.generate("q", Context())
    assert "cut off" in cut.value.message
    with pytest.raises(GenerationFailed) as empty:
        generator.generate("q", Context())
    assert "answer budget" in empty.value.message


@pytest.mark.parametrize("payload", [
    {"not": "a completion"}, {"choices": []}, [1, 2, 3],
])
def test_a_body_that_is_not_a_completion(httpserver: HTTPServer, generator: OpenAIGenerator,
                                         payload: object) -> None:
    httpserver.expect_request(PATH).respond_with_json(payload)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "OPENAI_BASE_URL" in caught.value.message


def test_refusal_and_content_parts(httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    refusal = completion(None)
    refusal["choices"][0]["message"]["refusal"] = "I can't help with that."
    parts = completion(None)
    parts["choices"][0]["message"]["content"] = [{"type": "text", "text": GOOD}]
    httpserver.expect_ordered_request(PATH).respond_with_json(refusal)
    httpserver.expect_ordered_request(PATH).respond_with_json(parts)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "declined" in caught.value.message
    assert generator.generate("q", Context()).sql == GOOD_SQL


def test_html_error_page_from_a_proxy(httpserver: HTTPServer,
                                      generator: OpenAIGenerator) -> None:
    def handler(request: Request) -> Response:
        return Response("<html><body>Bad gateway</body></html>", status=502,
                        content_type="text/html")

    httpserver.expect_request(PATH).respond_with_handler(handler)
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "(502)" in caught.value.message


# ----------------------------------------------------------------------------- transport


@pytest.mark.timeout(30)
def test_a_silent_server_times_out_by_openai_timeout(silent_server: str) -> None:
    generator = make_generator(silent_server, OPENAI_TIMEOUT_S="1")
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "OPENAI_TIMEOUT_S" in caught.value.message


@pytest.mark.timeout(30)
def test_a_silent_server_is_cut_off_by_the_ask_deadline(silent_server: str) -> None:
    generator = make_generator(silent_server, OPENAI_TIMEOUT_S="60", ASK_DEADLINE_S="1")
    token = ask_deadline.set(time.monotonic() + 1.0)
    try:
        with pytest.raises(GenerationFailed) as caught:
            generator.generate("q", Context())
    finally:
        ask_deadline.reset(token)
    assert "ASK_DEADLINE_S" in caught.value.message


def test_no_time_left_sends_nothing(httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    token = ask_deadline.set(time.monotonic() - 1)
    try:
        with pytest.raises(GenerationFailed) as caught:
            generator.generate("q", Context())
    finally:
        ask_deadline.reset(token)
    assert "ASK_DEADLINE_S" in caught.value.message
    assert httpserver.log == []


def test_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    generator = make_generator(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "Cannot reach the LLM server" in caught.value.message
    assert str(port) not in caught.value.message


def test_openai_without_key_or_url_says_what_to_set() -> None:
    generator = OpenAIGenerator(parse_settings({"GENERATOR": "openai"}))
    with pytest.raises(GenerationFailed) as caught:
        generator.generate("q", Context())
    assert "OPENAI_API_KEY" in caught.value.message and "OPENAI_BASE_URL" in caught.value.message


def test_context_sent_holds_roles_inferred_joins_and_value_matches(
        httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    from domains import UNDECLARED

    from dashboard.catalog import Catalog, build_context
    from dashboard.values import LazyValues, ValueIndex

    values = ValueIndex()
    values.add("public.members", "surname", "Rownam")
    catalog = Catalog(("public",), UNDECLARED, values=LazyValues(lambda: values))
    context = build_context(catalog, "How many slots did Rownam book?", token_budget=2000,
                            send_samples=True)
    httpserver.expect_request(PATH, method="POST").respond_with_json(completion(GOOD))
    generator.generate("How many slots did Rownam book?", context)
    (body,) = bodies(httpserver)
    sent = body["messages"][1]["content"]
    assert "memid integer JOINS public.members(memid) (by name, not declared)" in sent
    assert "identifier, never sum or average" in sent and "role: measure" in sent
    assert "'Rownam' is public.members.surname = 'Rownam'" in sent
    private = build_context(catalog, "How many slots did Rownam book?", token_budget=2000,
                            send_samples=False)
    assert "Rownam" not in private.text
