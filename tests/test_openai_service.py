"""The whole ask with the OpenAI-compatible generator: a real local HTTP server speaking
/v1/chat/completions, the real guard, executor and PostgreSQL. Never a real LLM."""

from __future__ import annotations

import dataclasses
import json
import uuid

import pytest
from pytest_httpserver import HTTPServer

from dashboard import service, store
from dashboard.config import parse_settings
from dashboard.db import Database
from dashboard.errors import GenerationFailed
from dashboard.generators.base import get_generator
from dashboard.generators.openai import OpenAIGenerator
from dashboard.store import User

PATH = "/v1/chat/completions"
GOOD_SQL = ("SELECT o.region, count(*) AS orders FROM demo.orders o "
            "GROUP BY o.region ORDER BY o.region")


def answer(sql: str, **extra: str) -> dict:
    content = json.dumps({"sql": sql, "chart": extra.get("chart"),
                          "title": extra.get("title", "Orders by region"),
                          "explanation": "Counts orders per region."})
    return reply(content)


def reply(content: str) -> dict:
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340}}


_KEEP: list[Database] = []  # catalog caches are keyed by id(): never let an id be reused


def with_settings(db: Database, **env: object) -> Database:
    """The shared database's pools with other settings (no new database needed)."""
    copy = dataclasses.replace(db, settings=dataclasses.replace(
        db.settings, **{k.lower(): v for k, v in env.items()}))
    _KEEP.append(copy)
    return copy


def llm(base_url: str, **env: str) -> OpenAIGenerator:
    return OpenAIGenerator(parse_settings({"OPENAI_BASE_URL": base_url,
                                           "OPENAI_MODEL": "test-model", **env}))


@pytest.fixture
def user(db: Database) -> User:
    return store.get_or_create_user(db, f"llm-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def generator(httpserver: HTTPServer) -> OpenAIGenerator:
    return llm(httpserver.url_for("/v1"))


def feedback_of(httpserver: HTTPServer, index: int) -> str:
    request, _ = httpserver.log[index]
    return request.get_json()["messages"][-1]["content"]


def orders_intact(db: Database) -> bool:
    with db.reader_connection() as conn:
        return conn.execute("SELECT count(*) FROM demo.orders").fetchone()[0] == 100_000


def test_good_answer_end_to_end(db: Database, user: User, httpserver: HTTPServer,
                                generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(answer(GOOD_SQL, chart="bar"))
    draft = service.preview(db, user, "How many orders per region?", generator=generator)
    assert draft.result.row_count == 4 and draft.spec.chart == "bar"
    assert draft.generation["generator"] == "openai"
    assert draft.generation["model"] == "test-model"
    assert (draft.generation["prompt_tokens"], draft.generation["completion_tokens"]) == (300, 40)
    widget = service.create(db, user, draft)
    assert widget.generation["prompt_tokens"] == 300
    # The schema context went to the model; the app's own tables did not.
    sent = httpserver.log[0][0].get_json()["messages"][1]["content"]
    assert "demo.orders" in sent and "widgets" not in sent


def test_fenced_answer_end_to_end(db: Database, user: User, httpserver: HTTPServer,
                                  generator: OpenAIGenerator) -> None:
    content = "Here it is:\n```json\n" + json.dumps({"sql": GOOD_SQL}) + "\n```"
    httpserver.expect_request(PATH).respond_with_json(reply(content))
    assert service.preview(db, user, "orders per region",
                           generator=generator).result.row_count == 4


def test_prose_without_json_but_with_sql(db: Database, user: User, httpserver: HTTPServer,
                                         generator: OpenAIGenerator) -> None:
    content = f"You can use this query:\n```sql\n{GOOD_SQL};\n```\nIt groups by region."
    httpserver.expect_request(PATH).respond_with_json(reply(content))
    draft = service.preview(db, user, "orders per region", generator=generator)
    assert draft.result.row_count == 4 and draft.title == "Orders per region"


@pytest.mark.parametrize("bad_sql", [
    "DROP TABLE demo.orders",
    "SELECT 1; DROP TABLE demo.orders",
    "SELECT id, username FROM users",
    "SELECT o.regoin, count(*) FROM demo.orders o GROUP BY 1",
], ids=["drop-table", "two-statements", "users-table", "sql-error"])
def test_a_bad_answer_is_fed_back_and_the_fix_runs(
        db: Database, user: User, httpserver: HTTPServer, generator: OpenAIGenerator,
        bad_sql: str) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(answer(bad_sql))
    httpserver.expect_ordered_request(PATH).respond_with_json(answer(GOOD_SQL))
    draft = service.preview(db, user, "orders per region", generator=generator)
    assert draft.sql and "region" in draft.sql and draft.result.row_count == 4
    assert draft.generation["attempts"] == 2
    assert draft.generation["prompt_tokens"] == 600
    feedback = feedback_of(httpserver, 1)
    assert bad_sql in feedback and "Error:" in feedback
    assert orders_intact(db)


def test_invalid_json_then_a_good_answer(db: Database, user: User, httpserver: HTTPServer,
                                         generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(reply('{"sql": "SELECT'))
    httpserver.expect_ordered_request(PATH).respond_with_json(answer(GOOD_SQL))
    draft = service.preview(db, user, "orders per region", generator=generator)
    assert draft.result.row_count == 4
    assert "JSON" in feedback_of(httpserver, 1)


def test_three_bad_answers_give_up_with_the_last_error(
        db: Database, user: User, httpserver: HTTPServer, generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(answer("DELETE FROM demo.orders"))
    httpserver.expect_ordered_request(PATH).respond_with_json(reply("no idea, sorry"))
    httpserver.expect_ordered_request(PATH).respond_with_json(
        answer("SELECT nonexistent_column FROM demo.orders"))
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "orders per region", generator=generator)
    assert len(httpserver.log) == 3
    assert "3 attempts" in caught.value.message
    assert "nonexistent_column" in caught.value.message
    assert orders_intact(db)


def test_invalid_json_three_times_gives_up(db: Database, user: User, httpserver: HTTPServer,
                                           generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(reply("{not json at all"))
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "orders per region", generator=generator)
    assert len(httpserver.log) == 3 and "JSON" in caught.value.message


def test_429_then_success(db: Database, user: User, httpserver: HTTPServer,
                          generator: OpenAIGenerator) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": "Rate limit"}}, status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request(PATH).respond_with_json(answer(GOOD_SQL))
    draft = service.preview(db, user, "orders per region", generator=generator)
    assert draft.result.row_count == 4 and draft.generation["attempts"] == 1


@pytest.mark.parametrize(("status", "setting"), [(401, "OPENAI_API_KEY"),
                                                 (404, "OPENAI_MODEL")])
def test_401_and_404_stop_at_once_with_the_setting_named(
        db: Database, user: User, httpserver: HTTPServer, generator: OpenAIGenerator,
        status: int, setting: str) -> None:
    httpserver.expect_request(PATH).respond_with_json({"error": {"message": "no"}},
                                                      status=status)
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "orders per region", generator=generator)
    assert setting in caught.value.message and len(httpserver.log) == 1


def test_enormous_reply_is_a_clear_error(db: Database, user: User, httpserver: HTTPServer,
                                         generator: OpenAIGenerator) -> None:
    httpserver.expect_request(PATH).respond_with_json(reply("SELECT " + "1," * 2_000_000))
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "orders per region", generator=generator)
    assert "enormous" in caught.value.message and len(httpserver.log) == 1


@pytest.mark.timeout(30)
def test_a_server_that_never_answers_ends_by_the_deadline(
        db: Database, user: User, silent_server: str) -> None:
    quick = with_settings(db, ASK_DEADLINE_S=2.0)
    generator = llm(silent_server, OPENAI_TIMEOUT_S="60", ASK_DEADLINE_S="2")
    with pytest.raises(GenerationFailed) as caught:
        service.preview(quick, user, "orders per region", generator=generator)
    assert "ASK_DEADLINE_S" in caught.value.message


@pytest.mark.timeout(30)
def test_a_slow_server_times_out_by_the_request_timeout(
        db: Database, user: User, silent_server: str) -> None:
    generator = llm(silent_server, OPENAI_TIMEOUT_S="1")
    with pytest.raises(GenerationFailed) as caught:
        service.preview(db, user, "orders per region", generator=generator)
    assert "OPENAI_TIMEOUT_S" in caught.value.message


def test_the_generator_setting_picks_the_llm_for_a_local_server(httpserver: HTTPServer) -> None:
    chosen = get_generator(parse_settings({"OPENAI_BASE_URL": httpserver.url_for("/v1")}))
    assert isinstance(chosen, OpenAIGenerator) and chosen.name == "openai"
