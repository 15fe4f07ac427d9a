"""The console over plain HTTP: pages read, actions need the admin token, bad ids are refused.

Against `modelyard ui` as a process over a workspace whose rollout was rolled back.
"""

from __future__ import annotations

import httpx
from console_harness import Console, Yard
from markupsafe import escape


def test_an_action_without_the_token_is_refused_and_changes_nothing(
    ui: Console, yard: Yard
) -> None:
    before = httpx.get(f"{ui.url}/models/ctr", timeout=30).text
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": ui.token}):
        reply = httpx.post(f"{ui.url}/models/ctr/rollback", headers=headers, timeout=30)
        assert reply.status_code == 401, reply.text
        assert "admin token" in reply.json()["error"]
        assert reply.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{ui.url}/models/ctr", timeout=30).text.count("<tr>") == before.count("<tr>")


def test_bad_ids_and_inputs(ui: Console) -> None:
    auth = {"authorization": f"Bearer {ui.token}"}
    assert httpx.get(f"{ui.url}/models/nope", timeout=30).status_code == 404
    missing = httpx.post(f"{ui.url}/models/nope/rollback", headers=auth, timeout=30)
    assert missing.status_code == 404
    assert "nope" in missing.json()["error"]
    malformed = httpx.get(f"{ui.url}/models/Bad..Id", timeout=30)
    assert malformed.status_code == 400
    unknown = httpx.post(f"{ui.url}/models/ctr/explode", headers=auth, timeout=30)
    assert unknown.status_code == 400
    assert "promote, abort, rollback" in unknown.json()["error"]
    # nothing is rolling out: promote has nothing to act on
    assert httpx.post(f"{ui.url}/models/ctr/promote", headers=auth, timeout=30).status_code == 404
    assert httpx.get(f"{ui.url}/models/ctr/rollback", timeout=30).status_code == 405


def test_the_pages_show_the_rollback(ui: Console, yard: Yard) -> None:
    index = httpx.get(ui.url, timeout=30)
    assert index.status_code == 200
    assert 'href="/models/ctr"' in index.text
    assert "ads-ranking" in index.text
    page = httpx.get(f"{ui.url}/models/ctr", timeout=30).text
    assert '<strong id="serving">1</strong>' in page
    assert "error_rate" in yard.reason
    assert str(escape(yard.reason)) in page  # the reason quotes the check's figures
    assert "rolled_back" in page
    assert "http://127.0.0.1:3000/d/modelyard-model-ctr" in page
    assert "http://127.0.0.1:5000/#/experiments/" in page


def test_the_model_page_links_to_its_logs_and_events(ui: Console, yard: Yard) -> None:
    page = httpx.get(f"{ui.url}/models/ctr", timeout=30).text
    assert 'href="/models/ctr/logs"' in page
    logs = httpx.get(f"{ui.url}/models/ctr/logs", timeout=30)
    assert logs.status_code == 200
    assert "server of ctr" in logs.text
    assert "server started: version 1" in logs.text
    assert "rolled back" in logs.text  # the rollback is among the events
    bad = httpx.get(f"{ui.url}/models/ctr/logs?version=x1", timeout=30)
    assert bad.status_code == 400
    assert httpx.get(f"{ui.url}/models/nope/logs", timeout=30).status_code == 404
