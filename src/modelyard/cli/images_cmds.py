"""Image commands: ``images build`` and ``images list`` (one image per runtime)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli.output import console, emit, err_console, literal
from modelyard.cli.workspace_cmds import JsonOpt, WorkspaceOpt

images = typer.Typer(
    name="images",
    help="Build and list the container image of each runtime in runtimes.yaml.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
BuilderOpt = Annotated[
    str,
    typer.Option(
        "--builder",
        help="auto (podman, else buildah, else none), podman, buildah, or none: write the "
        "build context and print the command for docker.",
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(images)


@images.command("build")
def build(
    runtimes: Annotated[
        list[str] | None, typer.Argument(help="Runtimes to build (all when none given).")
    ] = None,
    push: Annotated[
        bool,
        typer.Option(
            "--push", help="Push to kubernetes.image_registry (podman's auth file logs in)."
        ),
    ] = False,
    notebook: Annotated[
        bool,
        typer.Option(
            "--notebook", help="Add the notebook layer (jupyterlab, nbclient, ipykernel)."
        ),
    ] = False,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Resolve the locks again (newest allowed versions).")
    ] = False,
    builder: BuilderOpt = "auto",
    workspace: WorkspaceOpt = Path(),
    as_json: JsonOpt = False,
) -> None:
    """Build each runtime's image; an unchanged one is not rebuilt."""
    from modelyard.config import load_workspace
    from modelyard.environments.build import build_images
    from modelyard.environments.builder import detect_builder

    ws = load_workspace(workspace)
    chosen = detect_builder(builder)
    if chosen is None:
        results = build_images(ws, runtimes or [], None, notebook=notebook, upgrade=upgrade)
    elif as_json:
        results = build_images(
            ws, runtimes or [], chosen, push=push, notebook=notebook, upgrade=upgrade
        )
    else:
        with err_console.real().status("resolving locks") as status:

            def progress(runtime: str, line: str) -> None:
                if line.startswith(("STEP", "[", "COMMIT", "Downloading", "Installed")):
                    status.update(literal(f"{runtime}: {line[:100]}"))

            results = build_images(
                ws,
                runtimes or [],
                chosen,
                push=push,
                notebook=notebook,
                upgrade=upgrade,
                on_line=progress,
            )

    def human() -> None:
        if chosen is None:
            err_console.print(
                "no podman or buildah on this machine: wrote the build context; build it with:"
            )
        for result in results:
            if result.command:
                console.print(literal(result.command), soft_wrap=True)
                continue
            size = f"  {result.size_bytes / 1e6:.0f} MB" if result.size_bytes else ""
            pushed = f"  pushed {result.digest}" if push and result.digest else ""
            console.print(
                literal(f"{result.runtime}: {result.status}  {result.image}{size}{pushed}"),
                soft_wrap=True,
            )

    emit(as_json, [asdict(result) for result in results], human)


@images.command("list")
def list_(workspace: WorkspaceOpt = Path(), as_json: JsonOpt = False) -> None:
    """Each runtime's image, its size and whether it is built."""
    from modelyard.config import load_workspace
    from modelyard.environments.build import list_images
    from modelyard.environments.builder import detect_builder

    ws = load_workspace(workspace)
    rows = list_images(ws, detect_builder())

    def human() -> None:
        from rich.table import Table

        table = Table("runtime", "size", "built")
        table.add_column("image", overflow="fold")
        for row in rows:
            size = f"{row.size_bytes / 1e6:.0f} MB" if row.size_bytes else "-"
            table.add_row(
                literal(row.runtime), size, "yes" if row.built else "no", literal(row.image)
            )
        console.print(table)

    emit(as_json, [asdict(row) for row in rows], human)
