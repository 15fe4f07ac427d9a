"""Whatever a user wrote (owner, reasons, a model id or version typed into a URL) reaches the
console's pages as text, never as markup: the templates autoescape, so no page can forget to."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from modelyard.backends.backend import Revision
from modelyard.backends.fake import InMemoryBackend
from modelyard.config import load_workspace
from modelyard.console import ConsoleData, Links, build_app

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _console(workspace_dir: Path) -> TestClient:
    model = workspace_dir / "models" / "ctr" / "model.yaml"
    text = model.read_text()
    text = text.replace("team: ads-ranking", f'team: "{SCRIPT}"')
    text = text.replace("dri: ada@example.com", "dri: '\"><img src=x onerror=alert(2)>'")
    model.write_text(text)
    workspace = load_workspace(workspace_dir)
    assert workspace.models["ctr"].spec.owner.team == SCRIPT
    backend = InMemoryBackend()
    backend.deploy("ctr", 1, by=SCRIPT)
    backend.revisions["ctr"][0] = Revision("ctr", 1, "1", SCRIPT, 0.0, "active", SCRIPT)

    class NoVersions:
        def versions(self, name: str) -> list[object]:
            return []

    data = ConsoleData(workspace, backend, NoVersions(), Links())  # type: ignore[arg-type]
    return TestClient(build_app(data, "t"))


def test_an_owner_and_a_history_with_a_script_tag_are_shown_as_text(workspace_dir: Path) -> None:
    http = _console(workspace_dir)
    for url in ("/", "/models/ctr"):
        page = http.get(url)
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text
        assert "<img" not in page.text
        assert ESCAPED in page.text
        assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page.text
    # the one script of the page is still there: escaping is of values, not of the template
    assert http.get("/").text.count("<script>") == 1


def test_a_model_id_or_version_with_a_script_tag_is_refused_as_text(workspace_dir: Path) -> None:
    http = _console(workspace_dir)
    # a model id that is no id: 400, and the page repeats it escaped
    refused = http.get("/models/<script>alert(1)")
    assert refused.status_code == 400
    assert "&lt;script&gt;alert(1)" in refused.text
    assert "<script>alert" not in refused.text
    bad_version = http.get("/models/ctr/logs", params={"version": SCRIPT})
    assert bad_version.status_code == 400
    assert ESCAPED in bad_version.text
    assert "<script>alert" not in bad_version.text
