"""The ``pytyche`` command line: one function per verb, each a thin layer over the public API.

A pytyche error (bad input, a broken store) prints its message and exits with status 2; any
other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from pytyche.errors import PytycheError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Adaptive A/B/N experiments with heterogeneous treatment effects.",
)
console = Console()


@app.callback()
def _root() -> None:
    """Adaptive A/B/N experiments with heterogeneous treatment effects."""


@app.command("check-setup")
def check_setup() -> None:
    """Show versions, JAX devices, CUDA availability and shipped calibration artifacts."""
    from pytyche._setup import check_setup as _check

    report = _check()
    table = Table(title="pytyche setup", show_header=False)
    for label, value in report.lines():
        table.add_row(label, value)
    console.print(table)


def main() -> None:
    """Entry point of the ``pytyche`` script."""
    try:
        app()
    except PytycheError as error:
        console.print(f"[bold red]error:[/] {error}")
        sys.exit(2)
