"""Small schema fixtures from six domains for rule-level planner tests (no database).

Each is a tuple of catalog Tables as introspection would build them: names, types, keys,
declared foreign keys and low-cardinality sample values.
"""

from __future__ import annotations

from dashboard.catalog import Column, ForeignKey, Table


def _fk(table: str, column: str) -> ForeignKey:
    return ForeignKey("public", table, column)


def _id(name: str) -> Column:
    return Column(name, "integer", False, None, True)


LIBRARY = (
    Table("public", "books", None, 500, (
        _id("book_id"), Column("title", "text", False, distinct_estimate=500),
        Column("genre", "text", True, samples=("Fantasy", "History", "Poetry"),
               distinct_estimate=3),
        Column("pages", "integer", True))),
    Table("public", "borrowers", None, 80, (
        _id("borrower_id"), Column("first_name", "text", False),
        Column("last_name", "text", False),
        Column("city", "text", True, samples=("Leeds", "York"), distinct_estimate=2))),
    Table("public", "loans", None, 3000, (
        _id("loan_id"),
        Column("book_id", "integer", False, None, False, _fk("books", "book_id")),
        Column("borrower_id", "integer", False, None, False, _fk("borrowers", "borrower_id")),
        Column("loaned_at", "date", False, min_value="2023-01-02", max_value="2024-06-30"),
        Column("due_date", "date", False),
        Column("returned_at", "date", True))),
)

CLINIC = (
    Table("public", "patients", None, 900, (
        _id("patient_id"), Column("full_name", "text", False),
        Column("birth_year", "integer", True))),
    Table("public", "visits", None, 5000, (
        _id("visit_id"),
        Column("patient_id", "integer", False, None, False, _fk("patients", "patient_id")),
        Column("visited_at", "timestamp with time zone", False,
               min_value="2022-01-03", max_value="2024-12-30"),
        Column("ward", "text", False, samples=("Cardiology", "Oncology"), distinct_estimate=2),
        Column("cost", "numeric(10,2)", False))),
)

SHOP = (
    Table("public", "customers", None, 300, (
        _id("id"), Column("name", "text", False),
        Column("country", "text", False, samples=("France", "Germany"), distinct_estimate=2))),
    Table("public", "orders", None, 2000, (
        _id("id"),
        Column("customer_id", "integer", False, None, False, _fk("customers", "id")),
        Column("status", "text", False, samples=("cancelled", "shipped"), distinct_estimate=2),
        Column("amount", "numeric(12,2)", False),
        Column("ordered_at", "date", False, min_value="2024-01-01", max_value="2025-12-31"))),
)

HR = (
    Table("public", "departments", None, 10, (
        _id("department_id"),
        Column("department_name", "text", False, samples=("IT", "Sales"),
               distinct_estimate=2))),
    Table("public", "employees", None, 100, (
        _id("employee_id"), Column("first_name", "text", False),
        Column("last_name", "text", False), Column("salary", "numeric(8,2)", False),
        Column("hire_date", "date", False, min_value="2011-01-13", max_value="2018-04-21"),
        Column("manager_id", "integer", True, None, False, _fk("employees", "employee_id")),
        Column("department_id", "integer", True, None, False,
               _fk("departments", "department_id")))),
)

STREAMING = (
    Table("public", "shows", None, 8000, (
        _id("show_id"), Column("title", "text", False),
        Column("kind", "text", False, samples=("Movie", "TV Show"), distinct_estimate=2),
        Column("release_year", "integer", False),
        Column("rating", "text", True, samples=("PG", "R"), distinct_estimate=2))),
)

GEOGRAPHY = (
    Table("public", "country", None, 239, (
        Column("code", "character(3)", False, None, True), Column("name", "text", False),
        Column("continent", "text", False, samples=("Asia", "Europe"), distinct_estimate=2),
        Column("population", "integer", False))),
    Table("public", "city", None, 4000, (
        _id("id"), Column("name", "text", False),
        Column("country_code", "character(3)", False, None, False, _fk("country", "code")),
        Column("population", "integer", False))),
)

# A schema without declared foreign keys: joins only by naming convention.
UNDECLARED = (
    Table("public", "members", None, 30, (
        _id("memid"), Column("surname", "text", False))),
    Table("public", "bookings", None, 4000, (
        _id("bookid"), Column("memid", "integer", False), Column("slots", "integer", False))),
)

DOMAINS = {"library": LIBRARY, "clinic": CLINIC, "shop": SHOP, "hr": HR,
           "streaming": STREAMING, "geography": GEOGRAPHY}
