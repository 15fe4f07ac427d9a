"""The typer application and the registration of every command module."""

from __future__ import annotations

import typer

from modelyard.cli.output import EdgeGroup

app = typer.Typer(
    cls=EdgeGroup,
    name="modelyard",
    help=(
        "modelyard: describe a model in model.yaml and deploy.yaml, then train, track, "
        "register, serve and ship it. Run 'modelyard demo' to see the whole lifecycle."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Command modules import only light things at module level; heavy imports happen in
    # the command bodies so that `modelyard --help` stays fast.
    from modelyard.cli import workspace_cmds

    workspace_cmds.register(app)
    for name in (
        "lifecycle_cmds",
        "k8s_cmds",
        "rollout_cmds",
        "demo_cmds",
        "capacity_cmds",
        "observe_cmds",
        "eval_cmds",
        "console_cmds",
    ):
        try:
            module = __import__(f"modelyard.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"modelyard.cli.{name}":
                raise
            continue
        module.register(app)


_register()


def main() -> None:
    """Console-script entry point."""
    app()
