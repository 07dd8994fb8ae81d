"""The ``telecrunch`` command line."""

from __future__ import annotations

import functools
import sys

import click

from telecrunch.errors import TeleCrunchError


def user_errors(fn):
    """Print TeleCrunch errors as one line on stderr and exit with their status."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TeleCrunchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


class _Group(click.Group):
    """Bad flags get a one-line message and status 2 (click's own usage errors already do)."""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="telecrunch")
def main() -> None:
    """Generate realistic, reproducible, bit-packed synthetic telemetry at scale."""


@main.command()
@click.argument("schema", type=click.Path(dir_okay=False))
@user_errors
def validate(schema: str) -> None:
    """Check a schema file and print its record layout."""
    from telecrunch import load_schema
    from telecrunch.layout import compile_layout

    parsed = load_schema(schema)
    layout = compile_layout(parsed)
    click.echo(f"{schema}: valid schema '{parsed.name}' ({parsed.sources.count} sources, "
               f"fingerprint {parsed.fingerprint})")
    for kind, klayout in zip(parsed.kinds, layout.kinds, strict=True):
        bits = klayout.fixed_bits
        extra = klayout.max_bits - bits
        size = f"{bits} bits" + (f" + up to {extra} bits of text" if extra else "")
        click.echo(f"  {kind.name} (code {kind.code}, rate {kind.rate:g}): {size}")
        for slot in klayout.slots:
            text = f" + {slot.char_bits} bits/char, max {slot.max_length}" if slot.is_string else ""
            click.echo(f"    {slot.column:<20} {slot.width:>3} bits{text}")


if __name__ == "__main__":  # pragma: no cover
    main()
