"""The two kinds of failure ganx tells apart: the user's mistake, and a training run that went wrong."""


class UserError(Exception):
    """Bad input from the user (config, CLI, data). The CLI prints each line and exits with code 2."""

    def __init__(self, *problems: str):
        self.problems = [p for p in problems if p]
        super().__init__("\n".join(self.problems))


class TrainingFailure(Exception):
    """A run that diverged or was stopped by a failure detector; a sweep records it as FAIL."""

    def __init__(self, reason: str, step: int):
        self.reason = reason
        self.step = step
        super().__init__(f"step {step}: {reason}")


class PluginError(Exception):
    """An exception raised inside a plugin, re-raised with the plugin and hook named."""

    def __init__(self, plugin, where: str, exc: BaseException):
        self.plugin = plugin
        super().__init__(f"{plugin.category} plugin {plugin.name!r} failed in {where}: {type(exc).__name__}: {exc}")


class EnvironmentFault(Exception):
    """The machine or service under the results failed (a full disk, an unreachable database).

    It is nobody's trial outcome: a sweep leaves the cell runnable and stops; the CLI prints the one
    line and exits with code 1. Running the same command once the fault is fixed finishes the work.
    ``storage``: the sweep's database failed (the message then gains its masked URL where known).
    """

    def __init__(self, message: str, storage: bool = False):
        self.storage = storage
        super().__init__(message)


NO_SPACE = (28, 122)  # ENOSPC, EDQUOT
STORAGE_ERRORS = ("OperationalError", "InterfaceError", "DisconnectionError")  # sqlalchemy's and psycopg2's
CONNECTION_LOST = (  # what those say when the database is gone (not a lock, a deadlock or a missing table)
    "connection refused", "could not connect", "connection to server", "server closed the connection",
    "terminating connection", "connection already closed", "no route to host", "could not translate host",
    "timeout expired", "ssl syscall", "the database system is shutting down", "the database system is starting up",
)


def no_space(path) -> EnvironmentFault:
    """A full disk, naming the file that could not be written (the commands say what to do next)."""
    return EnvironmentFault(f"{path}: no space left on device" if path else "no space left on device")


def write_failure(path, exc: OSError, problem: str) -> EnvironmentFault | UserError:
    """A failed write at ``path``: a full disk is an :class:`EnvironmentFault`; anything else (a
    read-only folder, a file in the way) is the user's to fix, said as ``problem``."""
    return no_space(path) if exc.errno in NO_SPACE else UserError(problem)


def environment_fault(exc: BaseException) -> EnvironmentFault | None:
    """The fault behind ``exc`` (a full disk, a lost database connection), or None if it is something else."""
    seen = exc
    while seen is not None:
        if isinstance(seen, EnvironmentFault):
            return seen
        if isinstance(seen, OSError) and seen.errno in NO_SPACE:
            return no_space(seen.filename)
        if connection_lost(seen):
            from .sweep.storage import masked

            first = (str(seen).strip().splitlines() or [type(seen).__name__])[0]
            return EnvironmentFault(f"database unreachable ({masked(first)}); finished cells are saved there: "
                                    "run the same command again once it is back", storage=True)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)  # `from None` ends it
    return None


def connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a database driver's error for a connection that is gone or cannot be made."""
    if type(exc).__name__ not in STORAGE_ERRORS or type(exc).__module__.split(".")[0] not in ("sqlalchemy", "psycopg2"):
        return False
    text = str(exc).lower()
    return getattr(exc, "connection_invalidated", False) or any(phrase in text for phrase in CONNECTION_LOST)
