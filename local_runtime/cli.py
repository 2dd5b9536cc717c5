"""Command line of the local runtime: `python -m local_runtime <command>`.

Commands are looked up in `COMMANDS` (name -> "module:attribute" of a `Command`). A module that is not
there yet is skipped, so a new command is added by writing its module and, if it is new, one line here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_runtime.aws import LocalAws
from local_runtime.resources import LocalEnvironment, create_resources
from local_runtime.template import DEFAULT_TEMPLATE_PATH, load_template


@dataclass(frozen=True)
class Command:
    """One subcommand: its help line, how it adds its arguments, and what it runs (returns the exit code)."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, str] = {
    "serve": "local_runtime.serve:SERVE_COMMAND",
    "invoke": "local_runtime.serve:INVOKE_COMMAND",
    "demo": "local_runtime.demo:COMMAND",
    "channels-table": "local_runtime.channels_doc:COMMAND",
    "redrive": "local_runtime.redrive:COMMAND",
}


def load_command(target: str) -> Command | None:
    """The `Command` at "module:attribute", or None when that module does not exist."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, attribute)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every command that builds the local stack accepts (mirroring `sam` where it has one)."""
    parser.add_argument("-t", "--template", type=Path, default=DEFAULT_TEMPLATE_PATH, help="SAM template to run")
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameter values, e.g. ShopTimeZone=UTC",
    )


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"--parameter-overrides expects KEY=VALUE, got {pair!r}")
        overrides[key] = value
    return overrides


@contextmanager
def local_stack(args: argparse.Namespace) -> Iterator[tuple[LocalAws, LocalEnvironment]]:
    """Start local AWS and create the template's resources for the duration of a command."""
    template = load_template(args.template)
    with LocalAws() as aws:
        env = create_resources(
            template, endpoint_url=aws.endpoint_url, parameters=parse_overrides(args.parameter_overrides)
        )
        yield aws, env


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_runtime", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, target in COMMANDS.items():
        command = load_command(target)
        if command is None:
            continue
        subparser = subparsers.add_parser(name, help=command.help, description=command.help)
        command.configure(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
