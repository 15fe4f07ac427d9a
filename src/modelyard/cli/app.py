"""The typer application and the registration of every command module."""

from __future__ import annotations

from typing import Any

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
    # plain click help: typer's rich help imports rich, markdown-it and pygments (~0.2 s of
    # the 0.3 s budget for `--help`); the commands' own output still uses rich
    rich_markup_mode=None,
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
        "images_cmds",
        "notebook_cmds",
        "logs_cmds",
        "pool_cmds",
    ):
        try:
            module = __import__(f"modelyard.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"modelyard.cli.{name}":
                raise
            continue
        module.register(app)


def _version(value: bool) -> None:
    if value:
        from modelyard import __version__

        typer.echo(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print modelyard's version and exit.",
    ),
) -> None:
    """modelyard: describe a model in model.yaml and deploy.yaml, then train, track, register,
    serve and ship it. Run 'modelyard demo' to see the whole lifecycle."""


def _light_help_flag() -> None:
    """Let a subcommand's ``--help`` skip pydantic: typer (0.29) coerces its help flag with a
    pydantic TypeAdapter built on first use, and importing pydantic is a third of the 0.3 s
    that ``modelyard CMD --help`` may take. A bool flag needs no adapter; other parameters
    keep typer's own coercion. Without these typer internals, nothing changes."""
    try:
        from typer import core
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # pragma: no cover - another typer
        return
    original = core._TyperParameter.get_runtime_param

    def get_runtime_param(self: core._TyperParameter) -> object:
        descriptor: Any = getattr(self, "type_descriptor", None)
        if (
            descriptor is not None
            and getattr(self, "_runtime_param", 0) is None
            and self.name == "help"
            and getattr(descriptor, "annotation", None) is bool
        ):
            self._runtime_param = PassThroughRuntimeParam(
                annotation=bool, parameter_info=descriptor.parameter_info
            )
        return original(self)

    core._TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign,assignment]


_register()
_light_help_flag()


def main() -> None:
    """Console-script entry point."""
    app()
