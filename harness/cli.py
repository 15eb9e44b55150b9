"""The ``ganx`` command line. Heavy libraries (torch, optuna, pandas) are imported inside commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand

from .errors import EnvironmentFault, UserError, environment_fault

app = typer.Typer(
    help="ganx: train GANs and run ablation sweeps over losses, architectures, norms and tricks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)  # a path or command line is never broken across lines
INCOMPLETE = 1  # exit code of `sweep` and `table` while some cell has no outcome (the table says which)

def print_table(table) -> None:
    """Print a table; into a pipe, a file or a CI log, at its natural width, so that no cell wraps
    (a terminal's own width still rules on a terminal)."""
    if console.is_terminal:
        console.print(table)
        return
    natural = Console(width=10_000).measure(table).maximum
    Console(width=max(80, natural), highlight=False).print(table, soft_wrap=False)


class VisibleUsage(TyperCommand):
    """A command whose usage line leaves out its hidden arguments (``ganx sweep validate FILE``'s FILE)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if not getattr(param, "hidden", False):
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


SetOption = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override a setting: KEY.PATH=VALUE (VALUE is YAML, e.g. seeds=[0,1])."),
]
DeviceOption = Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N (overrides the config).")]
ArtifactsOption = Annotated[Optional[str], typer.Option(
    help="Upload each completed cell's files to this Optuna artifact store: a shared folder or s3://BUCKET/PREFIX.",
)]


@app.command()
def run(
    config: Annotated[Optional[Path], typer.Argument(help="Run config YAML (omit with --resume).")] = None,
    set_: SetOption = None,
    out: Annotated[Optional[Path], typer.Option(help="Results folder (default: results/<name>).")] = None,
    device: DeviceOption = None,
    resume: Annotated[
        Optional[Path], typer.Option(help="Continue the stopped run in this results folder from its checkpoint.")
    ] = None,
) -> None:
    """Train one GAN and write its results folder; Ctrl-C or SIGTERM stops it resumably."""
    from .config import load_run
    from .resume import Interrupted, resumable

    devices = [f"device={device}"] if device else []
    if resume and (config or set_ or out):
        raise UserError(
            "--resume DIR continues the run exactly as DIR/config.yaml says; do not also give CONFIG, --set or --out"
        )
    if resume:
        cfg, out = load_run(resumable(resume), devices), resume
    elif config is None:
        raise UserError("ganx run: give a run config YAML, or --resume DIR to continue a stopped run")
    else:
        cfg = load_run(config, list(set_ or []) + devices)
        out = out or Path("results") / cfg.name
    from .errors import PluginError, TrainingFailure
    from .run_progress import run_progress
    from .trainer import train

    console.print(f"{'resuming' if resume else 'training'} [bold]{cfg.name}[/] for {cfg.steps} steps → {out}")
    try:
        with run_progress(cfg.steps, console) as progress:
            final = train(cfg, out, resume=bool(resume), progress=progress.step, report=progress.evaluation)
    except TrainingFailure as failure:
        console.print(f"[red]run failed at step {failure.step}: {escape(failure.reason)}[/]")
        raise typer.Exit(1)
    except PluginError as exc:
        console.print(f"[red]run failed: {escape(str(exc))}[/]", soft_wrap=True)
        raise typer.Exit(1)
    except EnvironmentFault as fault:
        then = f"continue with: ganx run --resume {out}" if (out / "checkpoint.pt").is_file() else "run it again"
        raise EnvironmentFault(f"{fault}; free some space, then {then}") from None
    except Interrupted as stop:
        console.print(
            f"[yellow]stopped after step {stop.step}; checkpoint saved. Continue with: ganx run --resume {out}[/]",
            soft_wrap=True,
        )
        raise typer.Exit(128 + stop.signum)
    for metric, value in final["metrics"].items():
        console.print(f"  {metric:>12} = {value:.4g}")
    console.print(f"results in {out}/ (samples.png, curves.png, metrics.jsonl, final.json, checkpoint.pt)")


@app.command(cls=VisibleUsage)
def sweep(
    file: Annotated[str, typer.Argument(
        help="Sweep YAML to run or resume. `ganx sweep validate FILE` only checks it; "
        "`ganx sweep schema` prints its JSON Schema.",
        metavar="FILE | validate FILE | schema",
    )],
    checked: Annotated[Optional[Path], typer.Argument(hidden=True)] = None,
    set_: SetOption = None,
    results: Annotated[Path, typer.Option(help="Folder holding one sub-folder per sweep.")] = Path("results"),
    device: DeviceOption = None,
    workers: Annotated[
        Optional[int], typer.Option(min=1, help="Worker processes on this machine (default: the YAML's).")
    ] = None,
    devices: Annotated[
        Optional[str], typer.Option(help="GPUs for the workers in turn, e.g. 0,1 (one worker each by default).")
    ] = None,
    workers_per_gpu: Annotated[Optional[int], typer.Option(
        min=1, help="K workers on each GPU instead (--devices, or a SLURM task's GPUs), for small models.",
    )] = None,
    storage: Annotated[
        Optional[str],
        typer.Option(help="Optuna storage URL shared by every machine, e.g. postgresql://USER:PASSWORD@HOST/DB."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Continue a study even though its sweep YAML changed.")
    ] = False,
    slurm: Annotated[Optional[int], typer.Option(
        min=0, help="Submit N SLURM array tasks of workers (submitit) instead of working here, as the YAML's "
        "launcher.slurm does; later, the same command without --slurm (--slurm 0 over a launcher) shows the "
        "progress and the table.",
    )] = None,
    slurm_opt: Annotated[Optional[list[str]], typer.Option(
        help="A SLURM option for the array's tasks, KEY=VALUE (repeatable), e.g. partition=gpu, gpus-per-task=1, "
        "time=04:00:00 (default 24:00:00).",
    )] = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Run (or resume) an ablation sweep and print its table.

    Exit codes: 0 every cell has a result; 1 some cell has none yet (the table says which), or a full disk or unreachable database stopped it (run the same command again); 2 bad input; 130 stopped.
    """  # noqa: E501 (one paragraph in --help)
    from .sweep.config import load_sweep

    sets = list(set_ or []) + ([f"base.device={device}"] if device else [])
    sets += [f"artifacts.url={artifacts}"] if artifacts else []
    command = file if file in ("validate", "schema") and not Path(file).exists() else None
    if command == "schema":
        from .sweep.config import schema

        print(json.dumps(schema(), indent=2))
        return
    if command == "validate" and checked is None:
        raise UserError("usage: ganx sweep validate FILE")
    if command is None and checked is not None:
        raise UserError(f"unexpected argument {str(checked)!r} (to check a file: ganx sweep validate FILE)")
    spec = load_sweep(checked if command else Path(file), sets)
    from .sweep.storage import masked

    where = masked(storage or spec.config.storage or "") or f"journal {results / spec.config.name}/"
    if command == "validate":
        console.print(
            f"{escape(str(checked))}: valid; {spec.summary}; pruner {spec.config.pruner}; storage {escape(where)}",
            soft_wrap=True,
        )
        return
    from .report.table import study_table, unfinished
    from .sweep.slurm import requested
    from .sweep.workers import execute

    writable(results / spec.config.name, "--results")
    console.print(f"sweep [bold]{spec.config.name}[/]: {spec.summary}; storage {escape(where)}", soft_wrap=True)
    if workers and workers_per_gpu:
        raise UserError("--workers and --workers-per-gpu: give one (K workers per GPU makes K × GPUs workers)")
    tasks, slurm_options = requested(spec, slurm, list(slurm_opt or []))
    if tasks:
        submit_to_slurm(spec, results, storage, tasks, slurm_options, sets, force, workers, workers_per_gpu)
        return
    try:
        studies, stopped, finished = execute(
            spec, results, workers=workers, devices=devices.split(",") if devices else None,
            per_gpu=workers_per_gpu, storage=storage, force=force, console=console,
        )
        if stopped:
            console.print("[yellow]stopped; finished cells are saved. Run the same command to resume.[/]")
            raise typer.Exit(130)
        missing = unfinished(studies.main)
        if not finished and not missing:
            console.print("nothing left to run; every cell is finished")
        print_table(study_table(studies.main))
    except Exception as exc:
        fault = environment_fault(exc)
        if fault is None:
            raise
        if fault.storage:
            raise EnvironmentFault(f"storage {where}: {fault}") from None
        raise EnvironmentFault(f"{fault}; free some space and run the same command to finish the sweep "
                               "(finished cells are kept)") from None
    if missing:
        raise typer.Exit(INCOMPLETE)


def writable(folder: Path, option: str) -> None:
    """Refuse the ``option`` that names ``folder`` if results cannot be written there (creating nothing)."""
    import os

    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise UserError(f"{option} {folder.parent}: cannot write results here ({existing} is not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{option} {folder.parent}: cannot write results here ({existing} is read-only)")


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run's results folder (config.yaml and checkpoint.pt).")],
    n: Annotated[int, typer.Option("--n", help="How many samples, e.g. 50000 for FID.")] = 10_000,
    fmt: Annotated[str, typer.Option("--format", help="npz (uint8 NHWC images, or float points), png-dir, or grid.")]
    = "npz",
    out: Annotated[Optional[Path], typer.Option(help="File or folder to write (default: RUN_DIR/samples.npz, ...).")]
    = None,
    ema: Annotated[bool, typer.Option("--ema/--no-ema", help="Use the EMA generator when the run has one.")] = True,
    truncation: Annotated[Optional[float], typer.Option(help="Redraw latent entries beyond ±T.")] = None,
    label: Annotated[Optional[int], typer.Option(
        "--class", help="A conditional run's class K: every sample of class K (default: the classes in turn)."
    )] = None,
    device: DeviceOption = None,
) -> None:
    """Draw samples from a trained run's checkpoint, in batches, in what FID tools read."""
    from .sampling import FORMATS
    from .sampling import sample as draw

    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r} (valid: {', '.join(FORMATS)})")
    out = out or run_dir / {"npz": "samples.npz", "png-dir": "samples", "grid": "samples-grid.png"}[fmt]
    from .run_progress import run_progress

    with run_progress(n, console, "samples") as progress:
        written = draw(run_dir, n, fmt, out, ema=ema, truncation=truncation, device=device,
                       progress=lambda done: progress.step(done, {}), label=label)
    console.print(f"{n} samples → {escape(str(written))}")


def submit_to_slurm(spec, results: Path, storage: str | None, tasks: int, options: list[str], sets: list[str],
                    force: bool, workers: int | None, per_gpu: int | None) -> None:
    """Coordinate the sweep here, then leave its cells to ``tasks`` SLURM array tasks."""
    from .sweep.runner import coordinate
    from .sweep.slurm import check_launch, submit

    check_launch(spec, results, storage)
    coordinate(spec, results, storage, force)
    job = submit(spec, results, storage, tasks, options, sets, workers, per_gpu)
    again = " ".join(["ganx sweep", str(spec.source), *(["--slurm", "0"] if spec.config.launcher else []),
                      *(["--storage", "URL"] if storage else [])])
    console.print(f"submitted SLURM job array {job} ({tasks} tasks); `{again}` shows the progress and the table; "
                  f"`scancel {job}` stops it (cells it held run again)")


@app.command()
def worker(
    file: Annotated[Path, typer.Argument(help="The sweep YAML the sweep was started with.")],
    set_: SetOption = None,
    results: Annotated[Path, typer.Option(help="Folder holding one sub-folder per sweep.")] = Path("results"),
    device: DeviceOption = None,
    storage: Annotated[Optional[str], typer.Option(help="The sweep's storage URL, as given to `ganx sweep`.")] = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Join a started sweep as one more worker: train waiting cells until every cell has a result.

    It coordinates nothing, so it runs anywhere the storage is reachable: another machine, a SLURM or Kubernetes job, a Ray task.
    """  # noqa: E501 (one paragraph in --help)
    from .sweep.config import load_sweep
    from .sweep.runner import WorkerEnv, join, work
    from .sweep.storage import masked

    sets = list(set_ or []) + ([f"base.device={device}"] if device else [])
    spec = load_sweep(file, sets + ([f"artifacts.url={artifacts}"] if artifacts else []))
    where = masked(storage or spec.config.storage or "") or f"journal {results / spec.config.name}/"
    writable(results / spec.config.name, "--results")
    studies = join(spec, results, storage)
    console.print(f"worker for sweep [bold]{spec.config.name}[/]; storage {escape(where)}", soft_wrap=True)
    env = WorkerEnv()
    try:
        work(spec, results, studies, env)
    except KeyboardInterrupt:  # the trial it trained is closed as interrupted; the sweep goes on elsewhere
        console.print(f"[yellow]stopped after {len(env.ran)} cells; the cell it held is runnable again.[/]")
        raise typer.Exit(130)
    console.print(f"done: this worker trained {len(env.ran)} cells; every cell has a result")


@app.command()
def plugins(
    name: Annotated[Optional[str], typer.Argument(help="Show this plugin's params: type, default, description.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every plugin, built-in and third-party, by category; or one plugin's params."""
    from .plugin_manager import get_catalog, unknown_choice

    entries = sorted(get_catalog(), key=lambda e: (e.category, e.name))
    if name is not None:
        chosen = [e for e in entries if e.name == name]
        if not chosen:
            raise UserError(unknown_choice("plugin", name, sorted({e.name for e in entries})))
        rows = [{"category": e.category, "name": e.name, "params": params_of(e.cls)} for e in chosen]
        if as_json:
            print(json.dumps(rows, indent=2, default=str))
            return
        from rich.table import Table

        for row in rows:
            table = Table(title=f"{row['category']} {row['name']}")
            for column in ("param", "type", "default", "description"):
                table.add_column(column)
            for param in row["params"]:
                table.add_row(*(escape(str(param[k])) for k in ("name", "type", "default", "description")))
            console.print(table if row["params"] else f"{row['category']} {row['name']}: no params")
        return
    if as_json:
        rows = [
            {"name": e.name, "category": e.category, "plugin": e.plugin, "package": e.package, "version": e.version}
            for e in entries
        ]
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="ganx plugins")
    for column in ("category", "name", "plugin", "package"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.category, e.name, e.plugin, f"{e.package} {e.version}".strip())
    console.print(table)


def params_of(cls) -> list[dict[str, object]]:
    """A plugin class's params as its ``Params`` schema declares them (``Field(description=...)`` included)."""
    fields = cls.Params.model_fields.items()
    return [
        {"name": field, "type": type_name(info.annotation),
         "default": "required" if info.is_required() else info.get_default(call_default_factory=True),
         "description": info.description or ""}
        for field, info in fields
    ]


def type_name(annotation) -> str:
    """A param's type as a user writes it: ``float``, ``list[int]``, ``Literal['a', 'b']``, ``int | None``."""
    import types
    from typing import Annotated, Literal, Union, get_args, get_origin

    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:  # constraints (gt=0, ...) are checked, not shown
        return type_name(args[0])
    if origin is Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if origin in (Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(a) for a in args)}]"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


TargetArgument = Annotated[
    str,
    typer.Argument(help="A sweep name (under --results), a sweep's results folder, or a storage URL (with --study)."),
]
ResultsOption = Annotated[Path, typer.Option(help="Folder holding one sub-folder per sweep.")]
StudyOption = Annotated[Optional[str], typer.Option(help="Study name, when TARGET is a storage URL holding several.")]
MetricOption = Annotated[
    Optional[list[str]],
    typer.Option("--metric", help="Metric column, repeatable (default: the objective, then every metric)."),
]
BaselineOption = Annotated[Optional[str], typer.Option(help="Arm to compare against (default: baseline).")]
CiOption = Annotated[float, typer.Option(help="Confidence level of the intervals.")]
SortOption = Annotated[bool, typer.Option("--sort", help="Order arms best first by the objective.")]
SeOption = Annotated[bool, typer.Option("--se", help="Show mean ± standard error (as PacGAN's tables) instead of ± "
                                                     "the CI's half-width.")]
PairedOption = Annotated[bool, typer.Option("--paired", help="Add each arm against the baseline seed by seed, on "
                                                             "the seeds both ran (docs/statistics.md).")]
VerdictsOption = Annotated[bool, typer.Option("--verdicts", help="Add every metric's Δ vs the baseline with its CI "
                                                                 "and Holm-adjusted p, and each arm's verdict: helps, "
                                                                 "hurts or no detectable effect.")]


@app.command()
def table(
    target: TargetArgument,
    results: ResultsOption = Path("results"),
    study: StudyOption = None,
    metric: MetricOption = None,
    baseline: BaselineOption = None,
    fmt: Annotated[
        str, typer.Option("--format", help="rich, markdown, latex, or csv/json (the tidy per-trial data).")
    ] = "rich",
    ci: CiOption = 0.95,
    sort: SortOption = False,
    se: SeOption = False,
    paired: PairedOption = False,
    verdicts: VerdictsOption = False,
) -> None:
    """Print the ablation table of a sweep: mean and CI over seeds, Δ vs the baseline with its test and
    minimum detectable effect.

    Exits 1 while some cell of the sweep has no result (the table says which arms lack seeds).
    """
    from .report.studies import open_target
    from .report.table import FORMATS, study_table, study_text, unfinished

    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r} (valid: {', '.join(FORMATS)})")
    found, folder = open_target(target, results, study)
    if fmt == "rich":
        print_table(study_table(found, metric, baseline, ci, sort, folder, se, paired, verdicts))
    else:
        sys.stdout.write(study_text(found, fmt, metric, baseline, ci, sort, folder, se, paired, verdicts))
    if unfinished(found):
        raise typer.Exit(INCOMPLETE)


@app.command()
def report(
    target: TargetArgument,
    results: ResultsOption = Path("results"),
    study: StudyOption = None,
    metric: MetricOption = None,
    baseline: BaselineOption = None,
    ci: CiOption = 0.95,
    fmt: Annotated[str, typer.Option(
        "--format", help="markdown (report.md, pictures beside it) or html (one self-contained report.html)."
    )] = "markdown",
    se: SeOption = False,
    paired: PairedOption = False,
    verdicts: VerdictsOption = False,
) -> None:
    """Write <sweep>/report.md (or report.html): the table, a montage of samples per arm, per-arm curves
    and provenance."""
    from .report.document import FORMATS, write_report
    from .report.studies import open_target
    from .report.table import study_view, trials_frame

    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r} (valid: {', '.join(FORMATS)})")
    found, folder = open_target(target, results, study)
    view = study_view(found, trials_frame(found), metric, baseline, ci, se=se, paired=paired, verdicts=verdicts)
    path = write_report(found, folder, view, fmt)
    where = "self-contained" if fmt == "html" else f"pictures in {escape(str(folder / 'report'))}/"
    console.print(f"report: {escape(str(path))} ({where})")


metrics_app = typer.Typer(help="What metrics compare with: real reference statistics, computed once.",
                          no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")


@metrics_app.command()
def prepare(
    dataset: Annotated[str, typer.Argument(help="A dataset name, or its spec in YAML: '{name: digits, size: 32}'.")],
    metric: Annotated[str, typer.Option(
        help="A metric name, or its spec in YAML: '{name: fid_inception, weights: PATH, real_samples: 10000}'."
    )] = "fid_inception",
    split: Annotated[str, typer.Option(help="The real split to compare with: test or train.")] = "test",
    data_dir: Annotated[Optional[Path], typer.Option(help="Data dir (default: $GANX_DATA_DIR, else ~/.cache/ganx).")]
    = None,
    device: DeviceOption = None,
    allow_download: Annotated[bool, typer.Option(
        "--allow-download", help="Download torch-fidelity's Inception weights if they are not found (needs internet)."
    )] = False,
) -> None:
    """Compute a metric's real reference statistics and cache them in the data dir; runs then reuse them."""
    import os

    from rich.progress import Progress

    from .config import validate_run
    from .plugin_manager import get_catalog
    from .safe_yaml import parse_yaml
    from .trainer import data_dir as data_dir_of
    from .trainer import resolve_device

    if allow_download:
        os.environ["GANX_ALLOW_DOWNLOAD"] = "1"
    catalog = get_catalog()
    spec = parse_yaml(metric, "--metric")
    spec = {"name": spec} if isinstance(spec, str) else spec
    preparable = [name for name in catalog.names("metric") if hasattr(catalog.get("metric", name), "prepare")]
    if not isinstance(spec, dict) or spec.get("name") not in preparable:
        raise UserError(f"--metric {metric}: has no reference statistics to prepare (valid: {', '.join(preparable)})")
    config = validate_run(
        {"dataset": parse_yaml(dataset, "DATASET"), "steps": 1, "metrics": [{**spec, "split": split}],
         "device": device or "auto", **({"data_dir": str(data_dir)} if data_dir else {})},
        "ganx metrics prepare", catalog,
    )
    chosen = catalog.get("metric", config.metrics[0].name)(**config.metrics[0].params)
    real = catalog.get("dataset", config.dataset.name)(**config.dataset.params)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"embedding {real.name} {split}", total=None)
        cached = chosen.prepare(real, data_dir_of(config), resolve_device(config.device),
                                lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"{chosen.name} reference: {escape(cached)}")


@app.command("new-plugin")
def new_plugin(
    name: Annotated[str, typer.Argument(help="The plugin's name, e.g. 'my-tricks' (makes ganx-my-tricks/).")],
    into: Annotated[Path, typer.Option(help="Folder to create the package in.")] = Path("."),
) -> None:
    """Scaffold a plugin package: pyproject with the entry point, one example trick, a passing test."""
    from .scaffold import new_plugin as scaffold

    root = scaffold(name, into)
    console.print(f"created {escape(str(root))}/ — next: cd {escape(str(root))} && pip install -e . && pytest")


def main() -> None:
    """Entry point: user mistakes print one line per problem and exit with code 2."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)
    except TyperException as exc:  # typer's usage errors: one line, like ours
        ctx = getattr(exc, "ctx", None)
        if not exc.format_message():  # `ganx` alone: the help was printed already
            sys.exit(exc.exit_code)
        where = f"{ctx.command_path}: " if ctx else ""
        hint = f" (see '{ctx.command_path} --help')" if ctx else ""
        Console(stderr=True, highlight=False).print(
            f"[red]error:[/] {escape(where + exc.format_message() + hint)}", soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except UserError as exc:
        err = Console(stderr=True, highlight=False)
        for problem in exc.problems:
            err.print(f"[red]error:[/] {escape(problem)}", soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # a full disk, a lost database: the machine's to fix, not the input
        fault = environment_fault(exc)
        if fault is None:
            raise
        Console(stderr=True, highlight=False).print(f"[red]error:[/] {escape(str(fault))}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
