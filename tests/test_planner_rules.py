"""The offline planner's rules and precision gate, one rule at a time, on schema fixtures
from six domains (no database: the planner reads only the catalog)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
import sqlglot
from domains import CLINIC, GEOGRAPHY, HR, LIBRARY, SHOP, STREAMING
from sqlglot import exp

from dashboard.catalog import Column, ForeignKey, SchemaContext, Table
from dashboard.config import parse_settings
from dashboard.errors import GenerationFailed, NeedsClarification
from dashboard.generators import gate, planner, rules
from dashboard.generators.base import Draft
from dashboard.generators.lexicon import ColRef, Cond, build_lexicon
from dashboard.generators.offline import OfflineGenerator
from dashboard.values import ValueMatch

TODAY = date(2026, 11, 25)


def ask(tables: Sequence[Table], question: str,
        values: tuple[ValueMatch, ...] = ()) -> Draft:
    generator = OfflineGenerator(parse_settings({}), today=TODAY)
    return generator.generate(question, SchemaContext(tuple(tables), "", 0, values))


def tree(draft: Draft) -> exp.Select:
    parsed = sqlglot.parse_one(draft.sql, read="postgres")
    assert isinstance(parsed, exp.Select)
    return parsed


def checked(tables: Sequence[Table], question: str, sql: str,
            filters: Sequence[Cond] = ()) -> gate.Checked:
    """The gate's view of `question` with a hand-written query (rule-level tests)."""
    lex = build_lexicon(tables)
    text = question.lower()
    tokens = planner.tokenize(text, question)
    mentions = planner.find_mentions(tokens, lex)
    plan = planner.Plan(question, filters=list(filters), text=text, tokens=tokens,
                        mentions=mentions)
    return gate.Checked(question, plan.text, plan.tokens, plan.mentions, plan, lex,
                        sqlglot.parse_one(sql, read="postgres"))


def aggregates(query: exp.Expression) -> set[str]:
    return {type(a).__name__ for a in query.find_all(exp.AggFunc)}


# --- precision gate, rule by rule -------------------------------------------------------


@pytest.mark.parametrize(("tables", "question", "sql"), [
    (LIBRARY, "What is the total loan id?", "SELECT SUM(l.loan_id) FROM public.loans AS l"),
    (CLINIC, "Average patient id of visits",
     "SELECT AVG(v.patient_id) FROM public.visits AS v"),
    (SHOP, "Total customer id of orders", "SELECT SUM(o.customer_id) FROM public.orders AS o"),
])
def test_ids_are_never_summed_or_averaged(tables, question: str, sql: str) -> None:
    with pytest.raises(GenerationFailed, match="identifier"):
        gate.ids_not_aggregated(checked(tables, question, sql))


def test_measures_may_be_summed() -> None:
    gate.ids_not_aggregated(checked(CLINIC, "Total cost of visits",
                                    "SELECT SUM(v.cost) FROM public.visits AS v"))


def test_function_words_are_never_values() -> None:
    code = ColRef("public.country", "code")
    with pytest.raises(GenerationFailed, match="plain English"):
        gate.values_are_phrases(checked(
            GEOGRAPHY, "Which cities are in Asia?", "SELECT 1", [Cond(code, "=", "in")]))
    with pytest.raises(GenerationFailed, match="code"):
        gate.values_are_phrases(checked(
            GEOGRAPHY, "Cities in the ca region", "SELECT 1", [Cond(code, "=", "CA")]))
    # Typed as the data holds it, a short code is a value.
    gate.values_are_phrases(checked(GEOGRAPHY, "Cities in CA", "SELECT 1",
                                    [Cond(code, "=", "CA")]))


def test_a_threshold_is_never_a_limit() -> None:
    question = "Which departments have at least 3 employees?"
    limited = ("SELECT d.department_name FROM public.departments AS d JOIN public.employees AS e "
               "ON e.department_id = d.department_id GROUP BY 1 LIMIT 3")
    with pytest.raises(GenerationFailed, match="at least 3"):
        gate.numbers_placed(checked(HR, question, limited))
    having = ("SELECT d.department_name FROM public.departments AS d JOIN public.employees AS e "
              "ON e.department_id = d.department_id GROUP BY 1 HAVING COUNT(*) >= 3")
    gate.numbers_placed(checked(HR, question, having))


def test_a_stated_number_is_never_dropped() -> None:
    with pytest.raises(GenerationFailed, match="90"):
        gate.numbers_placed(checked(STREAMING, "How many shows released after 2019 run 90",
                                    "SELECT COUNT(*) FROM public.shows AS s"))


def test_negations_must_become_conditions() -> None:
    question = "How many patients have no visits?"
    with pytest.raises(GenerationFailed, match="'no'"):
        gate.negation_placed(checked(CLINIC, question,
                                     "SELECT COUNT(*) FROM public.patients AS p"))
    gate.negation_placed(checked(CLINIC, question, (
        "SELECT COUNT(*) FROM public.patients AS p WHERE NOT p.patient_id IN "
        "(SELECT v.patient_id FROM public.visits AS v)")))
    gate.negation_placed(checked(LIBRARY, "Loans not returned yet", (
        "SELECT COUNT(*) FROM public.loans AS l WHERE l.returned_at IS NULL")))


def test_every_content_word_is_accounted_for() -> None:
    with pytest.raises(GenerationFailed, match="'overdue'"):
        gate.words_accounted_for(checked(LIBRARY, "How many loans are overdue?",
                                         "SELECT COUNT(*) FROM public.loans AS l"))
    gate.words_accounted_for(checked(LIBRARY, "How many loans are there?",
                                     "SELECT COUNT(*) FROM public.loans AS l"))


def test_every_schema_mention_is_used() -> None:
    with pytest.raises(GenerationFailed, match="ward"):
        gate.mentions_used(checked(CLINIC, "Average cost by ward",
                                   "SELECT AVG(v.cost) FROM public.visits AS v"))


def test_listings_are_not_counts() -> None:
    with pytest.raises(GenerationFailed, match="listing"):
        gate.listing_not_counted(checked(LIBRARY, "Show the title and genre of books",
                                         "SELECT COUNT(*) FROM public.books AS b"))


@pytest.mark.parametrize("question", [
    "Which employees earn more than their manager?",
    "Which employees earn more than the average salary?",
    "Which borrowers borrowed the same book twice?",
    "Salary times 12 by department",
])
def test_shapes_the_planner_cannot_build_are_declined(question: str) -> None:
    with pytest.raises(GenerationFailed, match="cannot build"):
        gate.unsupported_shapes(checked(HR, question, "SELECT 1"))


def test_each_listed_aggregate_must_be_built() -> None:
    with pytest.raises(GenerationFailed, match="several figures"):
        gate.every_listed_aggregate(checked(
            HR, "Find the highest, lowest and average salary",
            "SELECT AVG(e.salary) FROM public.employees AS e"))


def test_distinct_counts_count_the_entity_their_key_names() -> None:
    with pytest.raises(GenerationFailed, match="manager_id"):
        gate.distinct_count_of_its_entity(checked(
            HR, "How many employees are there?",
            "SELECT COUNT(DISTINCT e.manager_id) FROM public.employees AS e"))
    gate.distinct_count_of_its_entity(checked(
        LIBRARY, "How many borrowers borrowed books?",
        "SELECT COUNT(DISTINCT l.borrower_id) FROM public.loans AS l"))


def test_a_threshold_on_a_total_needs_having() -> None:
    with pytest.raises(GenerationFailed, match="total"):
        gate.total_threshold_is_having(checked(
            GEOGRAPHY, "Which continents have a total population of more than 500 million?",
            "SELECT DISTINCT c.continent FROM public.country AS c "
            "WHERE c.population > 500000000"))


# --- end to end over the domains: answers, declines, interpretation --------------------


def test_plain_questions_in_each_domain_are_answered() -> None:
    visits = tree(ask(CLINIC, "How many visits per ward?"))
    assert aggregates(visits) == {"Count"} and visits.args.get("group") is not None
    shows = tree(ask(STREAMING, "How many shows are rated PG?"))
    (where,) = list(shows.find_all(exp.Where))
    assert where.find(exp.Literal).this == "PG"
    costs = tree(ask(CLINIC, "Total cost of visits by ward"))
    assert aggregates(costs) == {"Sum"}


def test_listing_rows_names_the_columns_and_keeps_the_condition() -> None:
    draft = ask(HR, "Display the last name and salary of employees who earn more than 15000")
    query = tree(draft)
    assert not aggregates(query) and not query.args.get("distinct")
    assert [e.alias_or_name for e in query.expressions] == ["last_name", "salary"]
    assert query.find(exp.GT).expression.this == "15000"
    assert draft.interpretation.startswith("Last name, salary of each row of employees")
    books = tree(ask(LIBRARY, "List the title and genre of books"))
    assert [e.alias_or_name for e in books.expressions] == ["title", "genre"]


def test_data_changes_and_unknown_words_are_declined_with_the_word() -> None:
    with pytest.raises(GenerationFailed, match="'overdue'"):
        ask(LIBRARY, "How many loans are overdue?")
    with pytest.raises(GenerationFailed):
        ask(GEOGRAPHY, "Which countries have at least 3 official languages?")


def test_a_literal_in_two_tables_asks_which_one_is_meant() -> None:
    both = (ValueMatch("Singapore", "public.country", "name", "Singapore"),
            ValueMatch("Singapore", "public.city", "name", "Singapore"))
    with pytest.raises(NeedsClarification) as raised:
        ask(GEOGRAPHY, "What is the population of Singapore?", both)
    options = raised.value.options
    assert len(options) == 2
    for option in options:
        query = tree(ask(GEOGRAPHY, option.prompt, both))
        (literal,) = [lit for lit in query.find_all(exp.Literal) if lit.is_string]
        table = query.find(exp.From).this.name
        assert literal.this == "Singapore" and table in option.label


def test_interpretation_names_the_dates_of_a_relative_period() -> None:
    draft = ask(HR, "How many employees were hired last quarter?")
    # The data ends 2018-04-21: the last full quarter before it.
    assert "hire date is from 2018-01-01 to before 2018-04-01" in draft.interpretation


def test_a_period_past_the_data_says_where_the_data_ends() -> None:
    draft = ask(HR, "How many employees were hired in 2030?")
    assert "no data after 2018-04-21" in draft.interpretation


def test_rules_run_in_order_and_leave_other_plans_alone() -> None:
    lex = build_lexicon(CLINIC)
    plan = planner.parse("How many visits per ward?", lex)
    assert rules.apply(plan, lex).listing is False
    # A text pattern is placed before the listing reads the columns named around it.
    assert rules.RULES[:2] == [rules.text_patterns, rules.listing_rows]


def test_the_catalogue_named_after_its_table_is_not_a_value() -> None:
    catalogue = (Table("public", "acme_orders", None, 900, (
        Column("order_id", "integer", False, None, True),
        Column("amount", "numeric(10,2)", False),
        Column("ordered_at", "date", False, min_value="2023-01-01",
               max_value="2024-12-31"))),)
    query = tree(ask(catalogue, "How many orders were placed on Acme in 2024?"))
    assert aggregates(query) == {"Count"}
    assert query.find(exp.Where) is not None
    with pytest.raises(GenerationFailed):
        ask(catalogue, "How many orders were placed on Globex in 2024?")


def test_null_semantics_become_is_null_or_an_anti_join() -> None:
    managers = tree(ask(HR, "Which employees do not have a manager?"))
    (test,) = list(managers.find_all(exp.Is))
    assert test.this.name == "manager_id" and isinstance(test.expression, exp.Null)
    assert not aggregates(managers)
    lonely = ask(CLINIC, "How many patients have no visits?")
    query = tree(lonely)
    anti = query.find(exp.Not).this
    assert isinstance(anti, exp.In) and anti.args["query"].find(exp.Table).name == "visits"
    assert query.find(exp.From).this.name == "patients"
    assert "no visits row refers to it" in lonely.interpretation


@pytest.mark.parametrize(("tables", "question", "column"), [
    (STREAMING, "How many titles have no rating listed?", "rating"),
    (CLINIC, "How many patients have no year of birth recorded?", "birth_year"),
    (LIBRARY, "How many books with a missing genre?", "genre"),
])
def test_an_empty_value_named_by_a_phrase_is_is_null(tables, question: str,
                                                      column: str) -> None:
    query = tree(ask(tables, question))
    (test,) = list(query.find_all(exp.Is))
    assert test.this.name == column and isinstance(test.expression, exp.Null)
    assert aggregates(query) == {"Count"} and query.args.get("group") is None


def _vs_average(query: exp.Select) -> exp.Expression:
    (where,) = list(query.find_all(exp.Where))
    compare = where.this
    assert isinstance(compare.expression, exp.Subquery)
    (avg,) = list(compare.expression.find_all(exp.Avg))
    assert avg.this.name == compare.this.name
    return compare


@pytest.mark.parametrize(("tables", "question", "column", "kind"), [
    (HR, "List the employees who earn more than the average salary", "salary", exp.GT),
    (GEOGRAPHY, "Which countries have a population below the average?", "population",
     exp.LT),
])
def test_a_column_compared_with_its_average_lists_the_rows(tables, question: str,
                                                           column: str, kind) -> None:
    query = tree(ask(tables, question))
    compare = _vs_average(query)
    assert isinstance(compare, kind) and compare.this.name == column
    assert query.args.get("group") is None
    assert not [a for e in query.expressions for a in e.find_all(exp.AggFunc)]


def test_a_count_of_rows_above_the_average_is_a_count() -> None:
    query = tree(ask(CLINIC, "How many visits cost more than the average cost?"))
    assert isinstance(_vs_average(query), exp.GT)
    assert aggregates(query) == {"Count", "Avg"}


def test_an_average_per_group_is_not_read_as_the_table_average() -> None:
    with pytest.raises(GenerationFailed):
        ask(HR, "Which employees earn more than the average salary of their department?")


def test_a_table_named_before_number_lists_its_key() -> None:
    query = tree(ask(HR, "Show the employee number and salary of employees hired in 2015"))
    assert {e.alias_or_name for e in query.expressions} >= {"employee_id", "salary"}


@pytest.mark.parametrize(("tables", "question", "column", "pattern", "counted"), [
    (LIBRARY, "List the books whose title ends with 'Night'", "title", "%Night", False),
    (HR, "How many employees have a last name that starts with the letter K?", "last_name",
     "K%", True),
    (STREAMING, "Show the shows with the word 'Love' in their title", "title", "%Love%",
     False),
])
def test_a_text_pattern_is_a_like_on_the_column_it_names(tables, question: str, column: str,
                                                         pattern: str, counted: bool) -> None:
    query = tree(ask(tables, question))
    (like,) = list(query.find_all(exp.Like))
    assert like.this.name == column and like.expression.this == pattern
    assert (aggregates(query) == {"Count"}) is counted


def test_a_text_pattern_without_a_text_column_is_declined() -> None:
    with pytest.raises(GenerationFailed):
        ask(CLINIC, "How many visits cost something that ends with '9'?")


@pytest.mark.parametrize(("tables", "question", "column", "kind", "number"), [
    (LIBRARY, "Which genres have more than 100 books?", "genre", exp.GT, 100),
    (STREAMING, "Which ratings have at least 50 titles?", "rating", exp.GTE, 50),
    (GEOGRAPHY, "Which continents have fewer than 20 countries?", "continent", exp.LT, 20),
])
def test_values_held_by_more_than_n_rows_are_a_having_count(tables, question: str,
                                                             column: str, kind,
                                                             number: int) -> None:
    query = tree(ask(tables, question))
    assert [e.alias_or_name for e in query.expressions] == [column]
    having = query.find(exp.Having)
    assert having is not None and isinstance(having.this, kind)
    assert isinstance(having.this.this, exp.Count) and having.this.expression.to_py() == number
    assert [g.name for g in having.parent_select.args["group"].expressions] == [column]


@pytest.mark.parametrize(("tables", "question", "child", "kind", "number", "negated"), [
    (HR, "Which departments have more than 5 employees?", "employees", exp.GT, 5, False),
    (CLINIC, "Which patients have fewer than 2 visits?", "visits", exp.GTE, 2, True),
    (LIBRARY, "Which borrowers have at least 10 loans?", "loans", exp.GTE, 10, False),
])
def test_rows_with_more_than_n_related_rows_are_a_having_count(
        tables, question: str, child: str, kind, number: int, negated: bool) -> None:
    query = tree(ask(tables, question))
    assert not [a for e in query.expressions for a in e.find_all(exp.AggFunc)]
    having = query.find(exp.Having)
    assert having is not None and isinstance(having.this, kind)
    assert having.this.expression.to_py() == number
    assert having.parent_select.find(exp.Table).name == child
    # "fewer than 2" keeps the rows with none: NOT IN (rows with at least 2)
    assert (query.find(exp.Where).this.key == "not") is negated


def test_a_threshold_may_be_a_number_word() -> None:
    query = tree(ask(HR, "Which departments have more than five employees?"))
    having = query.find(exp.Having)
    assert isinstance(having.this, exp.GT) and having.this.expression.to_py() == 5
    paid = tree(ask(HR, "How many employees earn more than ten thousand?"))
    (above,) = list(paid.find(exp.Where).find_all(exp.GT))
    assert above.this.name == "salary" and above.expression.to_py() == 10000


def test_related_rows_counted_may_be_qualified_by_a_yes_no_column() -> None:
    league = (
        Table("public", "teams", None, 20, (
            Column("team_id", "integer", False, None, True), Column("name", "text", False))),
        Table("public", "players", None, 400, (
            Column("player_id", "integer", False, None, True),
            Column("team_id", "integer", False, None, False,
                   ForeignKey("public", "teams", "team_id")),
            Column("full_name", "text", False), Column("active", "boolean", False))),
    )
    query = tree(ask(league, "Which teams have at least 3 active players?"))
    having = query.find(exp.Having)
    assert isinstance(having.this, exp.GTE) and having.this.expression.to_py() == 3
    inner = having.parent_select.args["where"]
    assert {c.name for c in inner.find_all(exp.Column)} == {"team_id", "active"}


def test_a_threshold_on_a_column_is_not_a_count_of_rows() -> None:
    try:
        query = tree(ask(LIBRARY, "Which genres have more than 100 pages?"))
    except GenerationFailed:
        return
    assert query.find(exp.Having) is None


def test_plural_ing_nouns_meet_their_singular() -> None:
    from dashboard import text as textlib
    assert textlib.stem("ratings") == textlib.stem("rating")
    assert textlib.stem("bookings") == textlib.stem("booking")
    assert textlib.stem("earnings") != textlib.stem("earning")


@pytest.mark.parametrize(("tables", "question", "key"), [
    (LIBRARY, "Number of loans per book, sorted by book id", "book_id"),
    (SHOP, "Total amount per customer, sorted by customer id", "id"),
])
def test_a_grouped_answer_is_sorted_by_the_key_asked_for(tables, question: str,
                                                          key: str) -> None:
    query = tree(ask(tables, question))
    first = query.args["order"].expressions[0]
    assert not first.args.get("desc")
    shown = {e.alias_or_name: e.this for e in query.expressions if isinstance(e, exp.Alias)}
    assert isinstance(shown[first.this.name], exp.Column)
    assert shown[first.this.name].name == key
    labels = [e for e in query.expressions if not any(e.find_all(exp.AggFunc))]
    assert len({e.this.sql() for e in labels}) == len(labels)  # no group twice


def test_time_buckets_sorted_by_their_grain_are_in_time_order() -> None:
    query = tree(ask(CLINIC, "Number of visits for each month, sorted by month"))
    first = query.args["order"].expressions[0]
    assert not first.args.get("desc")
    bucket = {e.alias: e.this for e in query.expressions}[first.this.name]
    assert isinstance(bucket, exp.DateTrunc | exp.TimestampTrunc)


def test_a_threshold_on_a_summed_column_is_declined() -> None:
    c = checked(SHOP, "Which customers have more than 1000 amount?",
                "SELECT c.name, SUM(o.amount) FROM public.orders AS o JOIN public.customers "
                "AS c ON o.customer_id = c.id WHERE o.amount > 1000 GROUP BY c.name")
    with pytest.raises(GenerationFailed):
        gate.threshold_not_on_a_summed_column(c)


@pytest.mark.parametrize(("tables", "question", "column", "value"), [
    (GEOGRAPHY, "List the cities where Europe is the continent", "continent", "Europe"),
    (CLINIC, "List the patients where Cardiology is the ward", "ward", "Cardiology"),
    (SHOP, "List the customers where France is the country", "country", "France"),
])
def test_a_listing_of_filtered_rows_is_not_a_count(tables, question: str, column: str,
                                                   value: str) -> None:
    query = tree(ask(tables, question))
    assert not aggregates(query) and query.args.get("group") is None
    (condition,) = list(query.find(exp.Where).find_all(exp.EQ))
    assert condition.this.name == column and condition.expression.this == value
    assert column not in {e.alias_or_name for e in query.expressions}


def _not_null(query: exp.Expression) -> list[str]:
    """Columns tested 'NOT (c IS NULL [OR c = '')]'."""
    return [i.this.name for n in query.find_all(exp.Not) for i in n.find_all(exp.Is)
            if isinstance(i.expression, exp.Null)]


def test_having_a_value_is_is_not_null() -> None:
    managed = tree(ask(HR, "How many employees have a manager?"))
    assert _not_null(managed) == ["manager_id"] and aggregates(managed) == {"Count"}
    rated = tree(ask(STREAMING, "List the shows that have a rating"))
    assert _not_null(rated) == ["rating"] and not aggregates(rated)


def test_an_empty_text_is_no_value_either() -> None:
    query = tree(ask(STREAMING, "How many titles have no rating listed?"))
    where = query.find(exp.Where)
    assert where.find(exp.Or) is not None
    (blank,) = list(where.find_all(exp.EQ))
    assert blank.this.name == "rating" and blank.expression.this == ""
    counted = tree(ask(HR, "How many employees have a manager?"))
    assert counted.find(exp.Where).find(exp.Or) is None  # a key is never ''


def test_a_share_of_rows_having_a_value_is_a_filtered_count() -> None:
    query = tree(ask(LIBRARY, "What percentage of books have a genre?"))
    (share,) = list(query.find_all(exp.Filter))
    assert isinstance(share.this, exp.Count) and _not_null(share) == ["genre"]
    assert query.args.get("group") is None


def test_a_value_said_more_about_is_not_only_present() -> None:
    query = tree(ask(HR, "Which employees have a salary above 10000?"))
    assert not _not_null(query)


def test_a_figure_of_a_named_row_is_read_from_its_own_table() -> None:
    brazil = (ValueMatch("Brazil", "public.country", "name", "Brazil"),)
    query = tree(ask(GEOGRAPHY, "What is the population of Brazil?", brazil))
    assert {t.name for t in query.find_all(exp.Table)} == {"country"}
    cities = tree(ask(GEOGRAPHY, "What is the total population of cities in Brazil?", brazil))
    (total,) = list(cities.find_all(exp.Sum))
    assert {t.name for t in cities.find_all(exp.Table)} == {"country", "city"}
    city_alias = next(t.alias_or_name for t in cities.find_all(exp.Table) if t.name == "city")
    assert total.this.table == city_alias


def test_values_listed_with_and_before_the_rows_are_groups() -> None:
    query = tree(ask(CLINIC, "How many Cardiology and Oncology visits?"))
    assert query.args.get("group") is not None
    one_total = tree(ask(CLINIC, "Total cost for Cardiology and Oncology in 2024"))
    assert one_total.args.get("group") is None


def test_a_yes_no_column_is_not_read_as_empty() -> None:
    lex = build_lexicon(LIBRARY)
    plan = planner.parse("How many loans were not returned?", lex)
    assert not any(f.op == "isnull" and f.col.column != "returned_at"
                   for f in rules.null_tests(plan, lex).filters)


def test_a_share_of_all_rows_is_one_figure() -> None:
    draft = ask(STREAMING, "What percentage of shows are Movie?")
    query = tree(draft)
    assert query.args.get("group") is None and query.find(exp.Filter) is not None
    assert draft.interpretation.startswith("Percentage:")


def test_a_verb_names_an_integer_year_column() -> None:
    draft = ask(STREAMING, "How many shows were released in 2020?")
    query = tree(draft)
    bounds = {(type(c).__name__, c.expression.this) for c in query.find_all(exp.GTE, exp.LT)}
    assert bounds == {("GTE", "2020"), ("LT", "2021")}
    assert {c.this.name for c in query.find_all(exp.GTE, exp.LT)} == {"release_year"}
    listing = tree(ask(STREAMING, "List the shows released in 2021"))
    assert not aggregates(listing) and listing.expressions[0].this.name == "title"


def test_list_columns_are_not_values() -> None:
    from dashboard.generators.lexicon import is_list_column

    assert is_list_column(["Dramas, Comedies", "Comedies", "Dramas, Thrillers"])
    assert not is_list_column(["Movie", "TV Show"])


def test_two_columns_answering_to_one_word_ask_which() -> None:
    from dashboard.catalog import Column

    passengers = (Table("public", "passenger", None, 1300, (
        Column("passenger_id", "integer", False, None, True), Column("age", "real", True),
        Column("class", "text", True, samples=("1st", "2nd", "3rd"), distinct_estimate=3),
        Column("pclass", "integer", False, distinct_estimate=3))),)
    with pytest.raises(NeedsClarification) as raised:
        ask(passengers, "Average age of passengers by class")
    for option, column in zip(raised.value.options, ("class", "pclass"), strict=True):
        query = tree(ask(passengers, option.prompt))
        assert query.args["group"].expressions[0].name == column


def test_an_order_asked_for_is_the_order_built() -> None:
    question = "Total cost per ward, sorted by ward"
    gate.sorted_as_asked(checked(CLINIC, question, (
        "SELECT v.ward, SUM(v.cost) AS total FROM public.visits AS v GROUP BY v.ward "
        "ORDER BY v.ward")))
    with pytest.raises(GenerationFailed, match="sort by 'ward'"):
        gate.sorted_as_asked(checked(CLINIC, question, (
            "SELECT v.ward, SUM(v.cost) AS total FROM public.visits AS v GROUP BY v.ward "
            "ORDER BY total")))
    with pytest.raises(GenerationFailed, match="direction"):
        gate.sorted_as_asked(checked(CLINIC, question, (
            "SELECT v.ward, SUM(v.cost) AS total FROM public.visits AS v GROUP BY v.ward "
            "ORDER BY v.ward DESC")))
