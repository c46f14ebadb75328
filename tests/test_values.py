"""The value index: literals of a question resolved to the columns holding them."""

from __future__ import annotations

from domains import CLINIC, GEOGRAPHY, HR, LIBRARY, UNDECLARED

from dashboard.catalog import Catalog, build_context, get_catalog
from dashboard.db import Database
from dashboard.profile import column_role, infer_joins
from dashboard.values import LazyValues, ValueIndex, build


def index(*entries: tuple[str, str, str]) -> ValueIndex:
    values = ValueIndex()
    for entry in entries:
        values.add(*entry)
    return values


def test_longest_phrase_first_case_insensitive() -> None:
    values = index(("public.film", "title", "The Dark Knight"), ("public.film", "title", "Dark"))
    (match,) = values.lookup("How long is the dark knight?")
    assert (match.phrase, match.value) == ("the dark knight", "The Dark Knight")


def test_function_words_never_match_even_when_the_data_holds_them() -> None:
    values = index(("public.country", "code", "IN"), ("public.country", "code", "US"),
                   ("public.country", "name", "India"))
    assert [m.value for m in values.lookup("Cities in India or in us")] == ["India"]


def test_plural_typed_for_a_singular_value() -> None:
    values = index(("public.members", "surname", "GUEST"))
    assert [m.value for m in values.lookup("bookings by guests")] == ["GUEST"]


def test_a_value_in_two_columns_is_reported_twice() -> None:
    values = index(("public.country", "name", "Singapore"), ("public.city", "name", "Singapore"))
    found = values.lookup("population of Singapore")
    assert {(m.table, m.column) for m in found} == {("public.country", "name"),
                                                    ("public.city", "name")}


def test_build_is_bounded_and_reads_as_the_reader(db: Database) -> None:
    catalog = get_catalog(db, refresh=True)
    small = build(db, catalog, per_column=5, total=1000)
    assert len(small) <= 1000
    # Columns with more distinct values than the bound are left out, not cut.
    assert small.skipped
    full = build(db, catalog)
    assert any(m.column == "country" for m in full.lookup("customers in Germany"))


def test_context_carries_value_matches_and_their_tables(db: Database) -> None:
    catalog = get_catalog(db, refresh=True)
    assert catalog.values is not None  # built lazily, on the first question
    context = build_context(catalog, "Revenue from Germany", token_budget=6000,
                            send_samples=True)
    assert any(m.value == "Germany" for m in context.values)
    assert "Values named in the question: 'Germany'" in context.text
    hidden = build_context(catalog, "Revenue from Germany", token_budget=6000,
                           send_samples=False)
    assert "Values named" not in hidden.text


def test_a_catalog_without_an_index_has_no_matches() -> None:
    assert Catalog(("public",), LIBRARY).value_matches("Leeds") == []
    assert LazyValues(None).get().lookup("Leeds") == []


def test_column_roles_across_domains() -> None:
    roles = {(t.name, c.name): column_role(c) for t in LIBRARY + CLINIC + HR + GEOGRAPHY
             for c in t.columns}
    assert roles[("loans", "loan_id")] == "key"
    assert roles[("loans", "book_id")] == "foreign key"
    assert roles[("loans", "returned_at")] == "date"
    assert roles[("visits", "cost")] == "measure"
    assert roles[("visits", "ward")] == "category"
    assert roles[("employees", "last_name")] == "label"
    assert roles[("city", "country_code")] == "foreign key"


def test_joins_inferred_from_names_when_not_declared() -> None:
    (join,) = infer_joins(UNDECLARED)
    assert (join.child, join.column, join.parent, join.parent_column) == (
        "public.bookings", "memid", "public.members", "memid")
    assert infer_joins(LIBRARY) == []  # declared keys need no guess
