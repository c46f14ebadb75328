"""The signed session cookie (username mode) and the period companions of number cards."""

from __future__ import annotations

from dashboard import periods, session_cookie, ui

KEY = "k" * 64


def test_cookie_round_trip_and_tampering() -> None:
    value = session_cookie.sign(KEY, 7, "ana.lyst", now=1_000)
    assert session_cookie.verify(KEY, value, now=1_001) == (7, "ana.lyst")
    assert session_cookie.verify("other" * 13, value, now=1_001) is None  # another key
    assert session_cookie.verify(KEY, value.replace(":7:", ":8:"), now=1_001) is None
    assert session_cookie.verify(KEY, value.replace("ana.lyst", "testuser"), now=1_001) is None
    expired = 1_000 + session_cookie.MAX_AGE_S + 1
    assert session_cookie.verify(KEY, value, now=expired) is None
    for junk in ("", "v1", "v1:x:y:z:w", "a" * 600, ":::::"):
        assert session_cookie.verify(KEY, junk, now=1_001) is None


def test_period_companions() -> None:
    year = periods.companions("Total revenue in 2025")
    assert year == periods.PeriodQuestions("Total revenue in 2024", "2024",
                                           "Total revenue in 2025 by month")
    quarter = periods.companions("number of orders in Q1 2025?")
    assert quarter is not None and quarter.previous == "number of orders in Q4 2024"
    month = periods.companions("revenue in January 2025")
    assert month is not None and month.previous_label == "December 2024"
    for none in ("What is our total revenue?", "revenue 2024 vs 2025", "revenue by month in "
                 "2025", "orders between 2023 and 2024"):
        assert periods.companions(none) is None, none


def test_metric_extras() -> None:
    generation = {"compare": {"label": "2024", "value": 100.0},
                  "trend": {"values": [1, 2, None, 3]}}
    delta, against, trend = ui.metric_extras(125.0, generation)
    assert delta == "+25 (+25.0%)" and against == "vs 2024: 100" and trend == [1, 2, 3]
    delta, _, _ = ui.metric_extras(50.0, generation)
    assert delta is not None and delta.startswith("-50")
    assert ui.metric_extras(5, {}) == (None, None, None)
    assert ui.rows_text(1) == "1 row" and ui.rows_text(12_345) == "12,345 rows"
