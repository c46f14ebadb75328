"""The intent gate: data changes and questions about the world are declined up front,
before any generator (offline or LLM) sees them."""

from __future__ import annotations

import pytest

from dashboard import service, store
from dashboard.db import Database
from dashboard.errors import GenerationFailed
from dashboard.intent import change_request, check_intent, world_question


@pytest.mark.parametrize(("request_text", "sentence"), [
    ("delete all cancelled orders", "Promptboard only reads data; it cannot delete orders."),
    ("Please remove the test customers", "it cannot remove customers."),
    ("Can you update the price of product 5", "it cannot update price."),
    ("DROP TABLE orders", "it cannot change the database."),
    ("insert into orders values (1)", "it cannot change the database."),
    ("grant select on orders to bob", "it cannot change the database."),
    ("Mark order 17 as shipped", "it cannot mark order."),
])
def test_requests_to_change_data_are_refused_with_a_plain_sentence(
        request_text: str, sentence: str) -> None:
    refusal = change_request(request_text)
    assert refusal is not None and refusal.endswith(sentence)


@pytest.mark.parametrize("question", [
    "what's the weather in Paris tomorrow?", "Tell me a joke", "hello",
    "What time is it?",
])
def test_questions_about_the_world_are_refused(question: str) -> None:
    assert world_question(question) is not None
    with pytest.raises(GenerationFailed, match="questions about your data"):
        check_intent(question)


@pytest.mark.parametrize("question", [
    "How many orders were deleted?", "Add up revenue by month", "Set of customers by region",
    "Change in revenue by month", "Show revenue by month", "Top 5 products",
    "What is the capital city of Brazil?", "Average temperature by city",
    "Compare revenue 2023 vs 2024", "List the cancelled orders",
])
def test_data_questions_pass(question: str) -> None:
    check_intent(question)


def test_preview_declines_before_any_generator(db: Database) -> None:
    class Untouchable:
        name, model = "untouchable", None

        def generate(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the generator must not be asked")

    user = store.get_or_create_user(db, "intent-tester")
    with pytest.raises(GenerationFailed, match="cannot delete orders"):
        service.preview(db, user, "delete all cancelled orders", generator=Untouchable())


def test_cli_ask_never_saves_a_refused_request(db: Database, monkeypatch, capsys) -> None:
    from dashboard import cli

    monkeypatch.setattr(cli, "_database", lambda: db)
    user = store.get_or_create_user(db, "intent-cli")
    before = len(store.list_widgets(db, user))
    assert cli.main(["ask", "--user", "intent-cli", "delete all cancelled orders"]) == 1
    assert "cannot delete orders" in capsys.readouterr().err
    assert len(store.list_widgets(db, user)) == before


def test_cli_prints_the_readings_of_an_ambiguous_question(db: Database, monkeypatch,
                                                          capsys) -> None:
    from dashboard import cli
    from dashboard.errors import Clarification, NeedsClarification

    def ambiguous(*args: object, **kwargs: object) -> None:
        raise NeedsClarification("'Paris' is in more than one column; which one?", [
            Clarification("'Paris' as the city name", "Orders from city Paris"),
            Clarification("'Paris' as the store name", "Orders from store Paris")])

    monkeypatch.setattr(cli, "_database", lambda: db)
    monkeypatch.setattr(service, "preview", ambiguous)
    assert cli.main(["ask", "--user", "intent-cli", "Orders from Paris"]) == 1
    err = capsys.readouterr().err
    assert "which one?" in err and '\'Paris\' as the city name: ask "Orders from city Paris"' in err
