"""Finding a sweep's Optuna study from what the user typed: a sweep name, a results folder, or a storage URL."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError


def open_target(target: str, results: Path, study: str | None = None):
    """Return ``(study, folder)``: the sweep's study and its results folder (``results/<name>`` for a URL).

    ``target`` is a storage URL (``sqlite:///x.db``, ``postgresql://...``; ``study`` picks the study when
    the storage holds several), a sweep's results folder, or a sweep name under ``results``.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if "://" in target:
        storage, where = target, target
    else:
        folder = Path(target) if Path(target).is_dir() else Path(results) / target
        journal = folder / "study.journal"
        if not journal.is_file():
            raise UserError(f"{target}: no sweep results found (looked for {journal}; for a database, pass its URL)")
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage, where = JournalStorage(JournalFileBackend(str(journal))), str(journal)
    try:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    except Exception as exc:  # a bad URL or an unreachable database: report it as the user's to fix
        raise UserError(f"{target}: cannot open this storage ({type(exc).__name__}: {exc})") from None
    if study is None and len(names) != 1:
        raise UserError(f"{where}: holds {len(names)} studies; pick one with --study (valid: {', '.join(names) or 'none'})")
    name = study or names[0]
    if name not in names:
        raise UserError(f"--study: no study {name!r} in {where} (valid: {', '.join(names) or 'none'})")
    loaded = optuna.load_study(study_name=name, storage=storage)
    return loaded, (Path(results) / name if "://" in target else folder)
