"""The ``telecrunch`` command line."""

from __future__ import annotations

import functools
import sys

import click

from telecrunch.errors import EXIT_BAD_INPUT, EXIT_DAMAGED, JobError, TeleCrunchError

FORMAT_CHOICES = ["binary", "jsonl", "influx", "csv", "zarr"]


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="telecrunch")
def cli() -> None:
    """Generate realistic, reproducible, bit-packed synthetic telemetry at scale."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors are one line and exit status 2, like all bad input."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = f"{exc.ctx.command_path}: " if exc.ctx else ""
        click.echo(f"error: {where}{exc.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted: finished shards are kept; rerun with --resume to go on",
                   err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(EXIT_BAD_INPUT)


@cli.command()
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


def _formats(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    bad = [n for n in names if n not in FORMAT_CHOICES]
    if bad or not names:
        raise JobError("--formats", f"must be a comma-separated list of: "
                       f"{', '.join(FORMAT_CHOICES)}", value)
    return names


def _execute(job, resume: bool, quiet: bool, cluster: str | None, workers: int | None,
             live_stats: bool = False) -> None:
    from telecrunch.engine import run_job
    from telecrunch.progress import Progress
    from telecrunch.stats import merge
    from telecrunch.summary import stats_line, summary_text

    progress: list[Progress] = []
    running: dict = {}

    def on_start(runner, shards) -> None:
        if quiet:
            return
        link = runner.dashboard_link
        click.echo(f"running {len(shards)} shards on {runner.description}"
                   + (f"; dashboard {link}" if link else ""), err=True)
        progress.append(Progress(job.spec.records, len(shards)))

    def on_shard(entry, reused) -> None:
        if progress:
            progress[0].shard_done(entry, reused)
        if live_stats:
            running["stats"] = merge(running.get("stats"), entry.stats)
            click.echo(stats_line(running["stats"]), err=True)

    manifest = run_job(job, resume=resume, cluster=cluster, workers=workers,
                       on_start=on_start, on_shard=on_shard)
    if not quiet:
        click.echo(summary_text(manifest, job.spec.out))
    else:
        click.echo(job.spec.out)


@cli.command()
@click.argument("schema", type=click.Path(dir_okay=False))
@click.option("--records", "-n", type=int, required=True, help="How many records.")
@click.option("--out", "-o", required=True, help="Output folder (or fsspec URL).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--first-id", type=int, default=0, show_default=True, help="ID of the first record.")
@click.option("--formats", default="binary", show_default=True,
              help=f"Comma-separated: {','.join(FORMAT_CHOICES)}.")
@click.option("--compression", type=click.Choice(["none", "lz4", "gzip", "zstd"]),
              default="none", show_default=True)
@click.option("--shard-records", type=int, default=None, help="Records per shard file.")
@click.option("--block-records", type=int, default=None, help="Records per block in a shard.")
@click.option("--cluster", default="local", show_default=True,
              help="local, threads, sync, a scheduler address, or a cluster spec .yaml")
@click.option("--workers", type=int, default=None, help="Workers of a local cluster.")
@click.option("--resume", is_flag=True, help="Continue (or repair) a dataset of the same job.")
@click.option("--quiet", "-q", is_flag=True, help="No progress, print only the output folder.")
@click.option("--stats", "live_stats", is_flag=True,
              help="Print the running statistics as shards finish.")
@user_errors
def generate(schema, records, out, seed, first_id, formats, compression, shard_records,
             block_records, cluster, workers, resume, quiet, live_stats) -> None:
    """Generate a dataset from SCHEMA."""
    from telecrunch import load_schema
    from telecrunch.job import make_job

    parsed = load_schema(schema)
    job = make_job(parsed, records=records, out=out, seed=seed, first_id=first_id,
                   formats=_formats(formats), compression=compression,
                   shard_records=shard_records, block_records=block_records, cluster=cluster,
                   workers=workers)
    _execute(job, resume, quiet, None, None, live_stats)


@cli.command()
@click.argument("job_file", type=click.Path(dir_okay=False))
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue a dataset this job started (rerunning a job resumes it).")
@click.option("--out", "-o", default=None, help="Override the job's output folder.")
@click.option("--records", "-n", type=int, default=None, help="Override the record count.")
@click.option("--cluster", default=None, help="Override the job's cluster.")
@click.option("--workers", type=int, default=None)
@click.option("--quiet", "-q", is_flag=True)
@click.option("--stats", "live_stats", is_flag=True,
              help="Print the running statistics as shards finish.")
@user_errors
def run(job_file, resume, out, records, cluster, workers, quiet, live_stats) -> None:
    """Run a job file (jobs/*.yaml)."""
    from telecrunch.job import load_job

    job = load_job(job_file, out=out, records=records)
    _execute(job, resume, quiet, cluster, workers, live_stats)


@cli.command()
@click.argument("dataset")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary.")
@user_errors
def inspect(dataset: str, as_json: bool) -> None:
    """Summarize a dataset: records, shards, sizes, per-field statistics."""
    import orjson

    from telecrunch.dataset import open_dataset
    from telecrunch.summary import summary_doc, summary_text

    ds = open_dataset(dataset)
    if as_json:
        click.echo(orjson.dumps(summary_doc(ds.manifest), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(summary_text(ds.manifest, dataset))


@cli.command()
@click.argument("dataset")
@click.option("--deep", is_flag=True, help="Also make every block again from its IDs and "
              "compare it byte for byte (naming the fields where records differ).")
@user_errors
def verify(dataset: str, deep: bool) -> None:
    """Check a dataset; print one line per problem (exit status 3 when damaged)."""
    from telecrunch.verify import verify_dataset

    problems = verify_dataset(dataset, deep=deep)
    for problem in problems:
        click.echo(f"{dataset}/{problem}")
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(EXIT_DAMAGED)
    click.echo(f"{dataset}: OK" + (" (deep)" if deep else ""))


def _id_range(value: str | None) -> slice | None:
    if value is None:
        return None
    start, sep, stop = value.partition(":")
    try:
        return slice(int(start) if start else None, int(stop) if stop else None) if sep else \
            _bad_ids(value)
    except ValueError:
        return _bad_ids(value)


def _bad_ids(value: str):
    raise JobError("--ids", "must be A:B (record IDs, either may be omitted)", value)


@cli.command()
@click.argument("dataset")
@click.option("--to", "to", type=click.Choice(["jsonl", "csv", "influx"]), default="jsonl",
              show_default=True)
@click.option("--ids", default=None, help="Record ID range A:B (default: all).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write to a file instead of standard output.")
@user_errors
def decode(dataset: str, to: str, ids: str | None, out: str | None) -> None:
    """Decode binary shards to JSON lines, CSV or InfluxDB line protocol."""
    from telecrunch.dataset import open_dataset
    from telecrunch.textformats import encoder

    ds = open_dataset(dataset)
    encode = encoder(to)
    id_slice = _id_range(ids)
    start, stop = ds._bounds(id_slice)
    stream = open(out, "wb") if out else sys.stdout.buffer  # noqa: SIM115
    try:
        first = True
        step = 65536
        for lo in range(start, stop, step):
            columns = ds.read(slice(lo, min(lo + step, stop)))
            stream.write(encode(columns, first))
            first = False
    finally:
        if out:
            stream.close()
        else:
            stream.flush()


@cli.command()
@click.option("--records", "-n", type=int, default=40_000_000, show_default=True,
              help="Records of the end-to-end runs.")
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--out", default=None,
              help="Folder for the datasets (default: the system temp folder).")
@click.option("--quick", is_flag=True, help="Small sizes and two repeats.")
@user_errors
def bench(records: int, repeats: int, out: str | None, quick: bool) -> None:
    """Benchmark the reference workload against baselines measured in the same run."""
    from telecrunch.bench import run_bench

    run_bench(records, repeats, out, quick, echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    main()
