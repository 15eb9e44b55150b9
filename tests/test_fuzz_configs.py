"""Property: whatever a config or sweep file holds, ``ganx`` exits 0 or 2 with one 'error:' line per
problem, never a traceback. Runs the real CLI in-process, stopping right after validation.

Hostile files too (anchors and aliases that expand a billion-fold, nesting 100,000 deep, huge numbers,
inf and NaN anywhere) are answered within seconds, by counting, and write nothing."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_bad_input import RUN, SWEEP

import ganx.config
import ganx.sweep.config
from ganx.cli import main

EXAMPLES = 300 if os.environ.get("CI") else 60
PLUGIN_NAMES = ["mlp", "dcgan", "spectral", "batch", "wgan", "wgan-gp", "hinge", "r1", "ema", "noisy_labels",
                "grid25", "ring8", "mnist", "digits", "modes", "fid", "hq", "image-folder", "os.system", "", "nope"]
KEYS = ["steps", "step", "seed", "seeds", "name", "params", "g", "d", "every", "lr", "p", "std", "clip", "__class__"]


class Validated(Exception):
    """Raised right after a config validated, so that nothing trains."""


def stop_after(load):
    def validate_only(*args, **kwargs):
        load(*args, **kwargs)
        raise Validated

    return validate_only


@pytest.fixture(scope="module")
def cli():
    """Invoke ``ganx`` in-process with load_run/load_sweep stopping after validation: (code, out, err)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(ganx.config, "load_run", stop_after(ganx.config.load_run))
    patch.setattr(ganx.sweep.config, "load_sweep", stop_after(ganx.sweep.config.load_sweep))

    def invoke(*args: str):
        out, err = io.StringIO(), io.StringIO()
        patch.setattr(sys, "argv", ["ganx", *args])
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except Validated:
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        return code, out.getvalue(), err.getvalue()

    with tempfile.TemporaryDirectory() as folder:
        yield invoke, Path(folder)
    patch.undo()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**300), 2**300),
    st.sampled_from([2**32, 2**63, 2**64 - 1, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(PLUGIN_NAMES),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node, prefix=()):
    """Every (container path, key) in a nested dict/list tree."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield prefix, key
        yield from paths(child, (*prefix, key))


def at(node, path):
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated(draw, base):
    """``base`` after 1-3 edits: drop a key, rename a key, replace a value, or swap in a plugin name."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        spots = list(paths(data))
        if not spots:
            break
        parent_path, key = draw(st.sampled_from(spots))
        parent = at(data, parent_path)
        edit = draw(st.sampled_from(["drop", "rename", "value", "plugin"]))
        if edit == "drop":
            parent.pop(key) if isinstance(parent, dict) else parent.pop(key)
        elif edit == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS) | st.text(min_size=1, max_size=8))] = parent.pop(key)
        elif edit == "plugin":
            parent[key] = draw(
                st.sampled_from(PLUGIN_NAMES) | st.fixed_dictionaries({"name": st.sampled_from(PLUGIN_NAMES)})
            )
        else:
            parent[key] = draw(values)
    return data


def dump(data, draw) -> str:
    """YAML text of ``data``, sometimes with one character inserted or deleted (syntax errors)."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    edit = draw(st.sampled_from(["none", "none", "insert", "delete"]))
    if edit != "none" and text:
        i = draw(st.integers(0, len(text) - 1))
        text = (
            text[:i] + draw(st.sampled_from(["\t", ":", "[", "{", "-", "'", '"', "&", "*", "!", "\n  "])) + text[i:]
            if edit == "insert"
            else text[:i] + text[i + 1 :]
        )
    return text


HOSTILE = "HOSTILE-VALUE"  # a placeholder, replaced in the YAML text by a hostile value


def laughs(width: int, levels: int) -> str:
    """A flow list whose aliases expand to ``width ** levels`` scalars (a "billion laughs")."""
    return "[" + ", ".join(f"&l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * width)}]" for i in range(levels)) + "]"


hostile = st.one_of(
    st.builds(laughs, st.integers(1, 12), st.integers(1, 12)),
    st.sampled_from([10, 63, 64, 65, 1000, 100_000]).map(lambda n: "[" * n + "]" * n),
    st.sampled_from([10, 64, 100_000]).map(lambda n: "{a: " * n + "1" + "}" * n),
    st.sampled_from(["&self [*self]", ".inf", "-.inf", ".nan", "[.nan, .inf]", "1.0e309", "18446744073709551616",
                     "18446744073709551615", "-1", "0x" + "f" * 80, "9" * 5000, "[0.001, 1.0e-3]", "[1, 1.0, true]"]),
)


@st.composite
def with_hostile_value(draw, base):
    """YAML text of ``base`` with one value (anywhere) replaced by a hostile one."""
    data = copy.deepcopy(base)
    parent_path, key = draw(st.sampled_from(list(paths(data))))
    at(data, parent_path)[key] = HOSTILE
    return yaml.safe_dump(data, sort_keys=False).replace(HOSTILE, draw(hostile))


def check(code: int, out: str, err: str) -> None:
    event(f"exit {code}")
    assert code in (0, 2), f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
    if code == 2:
        lines = err.strip().splitlines()
        assert lines and all(line.startswith("error: ") for line in lines), err


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_run_configs_never_crash(cli, data):
    invoke, folder = cli
    config = data.draw(mutated(copy.deepcopy(RUN)))
    path = folder / "run.yaml"
    path.write_text(dump(config, data.draw))
    sets = data.draw(
        st.lists(
            st.sampled_from(
                ["steps=0", "eval.every=x", "a.b.c=1", "=", "loss", "tricks=[r1, r1]", "seed=[", "name=a b"]
            ),
            max_size=2,
        )
    )
    check(*invoke("run", str(path), *(arg for s in sets for arg in ("--set", s))))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_sweep_files_never_crash(cli, data):
    invoke, folder = cli
    sweep = data.draw(mutated(copy.deepcopy(SWEEP)))
    path = folder / "sweep.yaml"
    path.write_text(dump(sweep, data.draw))
    check(*invoke("sweep", str(path)))


def test_the_unmutated_files_validate(cli):
    """The property is not vacuous: the seeds are valid, so mutations start from a passing file."""
    invoke, folder = cli
    (folder / "ok.yaml").write_text(yaml.safe_dump(RUN))
    (folder / "ok-sweep.yaml").write_text(yaml.safe_dump(SWEEP))
    assert invoke("run", str(folder / "ok.yaml"))[0] == 0
    assert invoke("sweep", str(folder / "ok-sweep.yaml"))[0] == 0


FULL_SWEEP = {**SWEEP, "grid": {"loss": ["nsgan", "hinge"]},
              "search": {"trials_per_arm": 2, "parameters": {"latent_dim": {"values": [2, 3]}}}}


@pytest.mark.parametrize("command, base", [("run", RUN), ("sweep", FULL_SWEEP)])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_values_are_answered_quickly_and_write_nothing(cli, data, command, base):
    invoke, folder = cli
    path = folder / f"{command}.yaml"
    path.write_text(data.draw(with_hostile_value(base)))
    before = sorted(folder.rglob("*"))
    started = time.monotonic()

    check(*invoke(command, str(path)))

    assert time.monotonic() - started < 20  # refused by counting, not by running out of time or memory
    assert sorted(folder.rglob("*")) == before


def test_the_unmutated_full_sweep_validates(cli):
    invoke, folder = cli
    (folder / "full.yaml").write_text(yaml.safe_dump(FULL_SWEEP))
    assert invoke("sweep", str(folder / "full.yaml"))[0] == 0
