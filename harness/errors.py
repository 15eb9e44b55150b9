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
