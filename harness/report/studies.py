"""Finding a sweep's Optuna study from what the user typed: a sweep name, a results folder, or a storage URL."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from ..sweep import optuna_adapter
from ..sweep.storage import masked, open_storage


def open_target(target: str, results: Path, study: str | None = None):
    """Return ``(study, folder)``: the sweep's study and its results folder (``results/<name>`` for a URL).

    ``target`` is a storage URL (``sqlite:///x.db``, ``postgresql://...``; ``study`` picks the study when
    the storage holds several), a sweep's results folder, or a sweep name under ``results``.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if "://" in target:
        storage, where = open_storage(target), masked(target)
    else:
        folder = Path(target) if Path(target).is_dir() else Path(results) / target
        journal = folder / "study.journal"
        if not journal.is_file():
            raise UserError(f"{target}: no sweep results found (looked for {journal}; for a database, pass its URL)")
        from ..sweep.journal import open_journal

        storage, where = open_journal(journal), str(journal)
    try:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    except Exception as exc:  # a bad URL or an unreachable database: report it as the user's to fix
        detail = masked(f"{type(exc).__name__}: {exc}", target if "://" in target else None)
        raise UserError(f"{where}: cannot open this storage ({detail})") from None
    sweeps = [n for n in names if ".tune." not in n]  # a search sweep's per-arm studies are not tables
    if study is None and len(sweeps) != 1:
        raise UserError(
            f"{where}: holds {len(sweeps)} sweeps; pick one with --study (valid: {', '.join(sweeps) or 'none'})"
        )
    name = study or sweeps[0]
    if name not in names:
        raise UserError(f"--study: no study {name!r} in {where} (valid: {', '.join(names) or 'none'})")
    loaded = optuna.load_study(study_name=name, storage=storage)
    return loaded, (Path(results) / name if "://" in target else folder)


def sweep_folder(study) -> Path | None:
    """The sweep's results folder, from where its runs were written (None before any run)."""
    run_dirs = [t.user_attrs["run_dir"] for t in study.get_trials(deepcopy=False) if "run_dir" in t.user_attrs]
    return Path(run_dirs[0]).parent.parent if run_dirs else None


def tuning_studies(study, folder: Path | None = None) -> dict:
    """Per arm, the search study of a sweep with ``search`` (named ``<sweep>.tune.<arm>``).

    They live in the main study's storage (a database) or in ``tuning.journal`` beside its journal.
    """
    import optuna

    prefix = f"{study.study_name}.tune."
    storages = [optuna_adapter.storage(study)]
    folder = folder or sweep_folder(study)
    if folder and (folder / "tuning.journal").is_file():
        from ..sweep.journal import open_journal

        storages.append(open_journal(folder / "tuning.journal"))
    return {
        name[len(prefix) :]: optuna.load_study(study_name=name, storage=storage)
        for storage in storages
        for name in optuna.get_all_study_names(storage)
        if name.startswith(prefix)
    }


REPORTED = ("metrics.jsonl", "samples.png", "curves.png")  # the files of a completed cell a report shows


def cell_folder(study, trial, folder: Path) -> Path:
    """Where ``trial``'s run files are on this machine: downloaded from its artifact store (once) into
    ``folder/artifacts/<cell>-trial<N>`` if it has one, else its ``run_dir``."""
    from ..sweep import artifacts

    attrs = trial.user_attrs
    run_dir = Path(attrs.get("run_dir") or Path(folder) / "runs" / f"{attrs.get('arm')}-s{attrs.get('seed')}")
    if "artifacts" not in attrs:
        return run_dir
    return artifacts.download(study, trial, Path(folder) / "artifacts" / f"{run_dir.name}-trial{trial.number}")


def missing_files(runs: dict[str, list[tuple[int, Path]]]) -> list[str]:
    """One line per completed cell (per arm, its (seed, folder)) lacking a file a report shows."""
    return [
        f"{arm} seed {seed}: no {', '.join(lacking)} in {folder}"
        for arm, found in runs.items() for seed, folder in found
        if (lacking := [name for name in REPORTED if not (folder / name).is_file()])
    ]
