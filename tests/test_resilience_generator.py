"""A slow, enormous or malformed LLM reply never blocks other users.

A local HTTP server (pytest-httpserver, loopback only) holds each chat-completion
request until the test releases it. While one user's ask waits on it, other users'
offline asks complete; the waiting ask then ends in a clear GenerationFailed, bounded by
OPENAI_TIMEOUT_S and ASK_DEADLINE_S.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from dashboard import service, store
from dashboard.config import parse_settings
from dashboard.db import Database
from dashboard.errors import GenerationFailed
from dashboard.generators.offline import OfflineGenerator
from dashboard.generators.openai import OpenAIGenerator

PATH = "/v1/chat/completions"


def completion(content: str) -> str:
    return json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}]})


REPLIES = {
    # Never answers within OPENAI_TIMEOUT_S: the handler holds the request until the ask
    # has already given up.
    "slow": None,
    # 3 MB of "SQL": far beyond any completion; refused by size, never parsed whole.
    "enormous": completion(json.dumps({"sql": "SELECT " + "1, " * 1_000_000 + "1"})),
    # A proxy's HTML error page with status 200.
    "malformed": "<html><body><h1>Bad gateway</h1><script>alert(1)</script></body></html>",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(REPLIES))
def test_a_bad_llm_reply_never_blocks_other_users(db: Database, httpserver: HTTPServer,
                                                  kind: str) -> None:
    arrived, release = threading.Event(), threading.Event()

    def handler(request: Request) -> Response:
        arrived.set()
        release.wait(timeout=15)
        body = REPLIES[kind]
        if body is None:
            return Response("{}", status=504, content_type="application/json")
        return Response(body, status=200, content_type="application/json"
                        if body.startswith("{") else "text/html")

    httpserver.expect_request(PATH).respond_with_handler(handler)
    llm = OpenAIGenerator(parse_settings({"OPENAI_BASE_URL": httpserver.url_for("/v1"),
                                          "OPENAI_MODEL": "test-model",
                                          "OPENAI_TIMEOUT_S": "1", "ASK_DEADLINE_S": "4"}))
    offline = OfflineGenerator(db.settings)
    waiting_user = store.get_or_create_user(db, f"llm-wait-{uuid.uuid4().hex[:8]}")
    others = [store.get_or_create_user(db, f"other-{uuid.uuid4().hex[:8]}") for _ in range(3)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        waiting = pool.submit(service.preview, db, waiting_user, "orders by region",
                              generator=llm)
        assert arrived.wait(timeout=15), "the LLM request never reached the server"
        try:
            # Other users ask while that request is held: every one of them is answered
            # before the held request is released.
            answers = [f.result(timeout=60) for f in
                       [pool.submit(service.preview, db, user, "orders by region",
                                    generator=offline) for user in others]]
            assert all(a.result.row_count == 4 for a in answers)
            if kind == "slow":  # never answered: the client's own timeout must end it
                with pytest.raises(GenerationFailed) as failed:
                    waiting.result(timeout=60)
        finally:
            release.set()
        if kind != "slow":
            with pytest.raises(GenerationFailed) as failed:
                waiting.result(timeout=60)
    message = failed.value.message
    assert message and "Traceback" not in message and "<script" not in message
    if kind == "slow":
        assert "OPENAI_TIMEOUT_S" in message or "ASK_DEADLINE_S" in message
    # Nothing was saved for the failed ask.
    assert store.list_widgets(db, waiting_user) == []
