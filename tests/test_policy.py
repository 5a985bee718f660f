"""grading.toml is validated on load: one line naming file, key and problem; exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograder.grading.policy import PolicyError, load_policy
from conftest import POLICY, ROOT, policy_with


def test_the_shipped_policy_loads():
    policy = load_policy(POLICY)
    assert policy.language == "pt"
    assert policy.modules["rnn_basics"].points["VanillaRNN"] > 0
    assert policy.public_seed != policy.hidden_seed


BROKEN = [
    ("unknown key", "hidden_cases = 3", "hidden_cases = 3\nhiden_seed = 4", "grader.hiden_seed", "unknown key"),
    ("negative value", "time_limit_s = 20", "time_limit_s = -1", "modules.rnn_basics.time_limit_s", "-1"),
    ("missing value", "memory_limit_mb = 3072\n", "", "modules.rnn_basics.memory_limit_mb", "missing"),
    ("negative points", "rnn_step = 2", "rnn_step = -2", "modules.rnn_basics.points.rnn_step", "-2"),
    (
        "exercise not in the contract",
        "rnn_step = 2",
        "rnn_step = 2\nrnn_stepp = 1",
        "modules.rnn_basics.points.rnnstepp".replace("rnnstepp", "rnn_stepp"),
        "not an exercise",
    ),
    ("missing exercise", "sigmoid = 1\n", "", "modules.rnn_basics.points.sigmoid", "missing"),
    ("unknown module", "[modules.rnn_basics]", "[modules.rnn_basic]", "modules.rnn_basic", "not a module"),
    ("wrong type", 'language = "pt"', "language = 3", "grader.language", '"pt" or "en"'),
    ("bad tolerance", "rtol = 1e-7", "rtol = -1e-7", "tolerances.float64.rtol", "-1e-07"),
    ("syntax error", "[grader]", "[grader", "(syntax)", "Expected ']' at the end of a table declaration"),
]


@pytest.mark.parametrize("name, old, new, key, problem", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_policy_names_file_key_and_problem(tmp_path, name, old, new, key, problem):
    path = policy_with(tmp_path, old, new)
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    text = str(error.value)
    assert text.startswith(f"{path}: {key}: "), text
    assert problem in text
    assert "\n" not in text


def test_cli_prints_one_line_and_exits_2_without_traceback(tmp_path):
    path = policy_with(tmp_path, "time_limit_s = 20", "time_limit_s = -5")
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "--policy", str(path), "grade", "solutions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "modules.rnn_basics.time_limit_s" in result.stderr and "Traceback" not in result.stderr


def test_missing_policy_file(tmp_path):
    with pytest.raises(PolicyError, match="not found"):
        load_policy(tmp_path / "nope.toml")
