def test_shared_db_has_demo(db):
    with db.reader_connection() as conn:
        assert conn.execute("SELECT count(*) FROM demo.orders").fetchone()[0] == 100_000
