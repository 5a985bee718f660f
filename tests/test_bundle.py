"""The student bundle: everything students need, nothing they must not see."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from autograder import codegen
from autograder.bundle import write_bundle
from autograder.policy import load_policy
from conftest import POLICY, SOLUTIONS

MODULES = list(load_policy(POLICY).modules)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("bundle") / "out", POLICY)


def bundle_files(bundle):
    return [p for p in bundle.rglob("*") if p.is_file()]


def test_bundle_has_notebooks_stubs_checks_and_fixtures(bundle):
    for module in MODULES:
        assert (bundle / "notebooks" / f"{module}.ipynb").is_file()
        assert (bundle / "assignments" / f"{module}.py").read_text() == (codegen.ASSIGNMENTS / f"{module}.py").read_text()
        assert (bundle / "autograder" / "checks" / f"{module}.py").is_file()
        assert (bundle / "autograder" / "fixtures" / f"{module}.npz").is_file()
    assert "Instalação" in (bundle / "README.md").read_text()
    assert "-c constraints.txt" in (bundle / "requirements.txt").read_text()


def test_bundle_hides_the_reference_and_the_hidden_seed(bundle):
    seed = str(load_policy(POLICY).hidden_seed).encode()
    assert not (bundle / "solutions").exists()
    assert load_policy(bundle / "grading.toml").hidden_seed == 0
    # distinctive reference code: two consecutive non-trivial lines of a solution region, or
    # one long line (a single loop header such as `for layer in range(layers):` is not a leak)
    reference_lines = set()
    for module in MODULES:
        source = (SOLUTIONS / f"{module}.py").read_text()
        for begin, end, _, _ in codegen.solution_regions(source):
            region = [line.strip() for line in source.splitlines()[begin + 1:end]]
            reference_lines |= {line for line in region if len(line) > 45}
            reference_lines |= {f"{a}\n{b}" for a, b in zip(region, region[1:]) if min(len(a), len(b)) > 15}
    for path in bundle_files(bundle):
        data = path.read_bytes()
        assert seed not in data, path
        assert b"BEGIN HIDDEN TESTS" not in data and b"BEGIN SOLUTION" not in data, path
        if path.suffix in (".py", ".ipynb", ".md", ".toml", ".txt"):
            text = "\n".join(line.strip() for line in data.decode().splitlines())
            leaked = [line for line in reference_lines if line in text]
            assert not leaked, (path, leaked[:3])


def test_check_in_the_bundle_names_the_mistakes_public_cases_can_show(bundle, tmp_path):
    """Without the instructor-only diagnoses.py, `check` still names what the public cases show."""
    from autograder.messages import Message
    from conftest import patched_source
    work = tmp_path / "work"
    work.mkdir()
    (work / "rnn_basics.py").write_text(patched_source("rnn_basics", [(
        "return np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b_h)", "return sigmoid(x @ W_xh.T + h_prev @ W_hh.T + b_h)")]))
    (work / "bptt.py").write_text(patched_source("bptt", [
        ("shifted = logits - logits.max(axis=-1, keepdims=True)", "shifted = logits"),
        ("product = product @ ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh)",
         "product = ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh) @ product")]))
    # this venv's editable install would resolve the bundle's missing modules from the project: drop it
    bundle_only = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, '__module__', '')"
                   ".startswith('__editable__')]; from autograder.cli import main; sys.exit(main())")
    result = subprocess.run([sys.executable, "-c", bundle_only, "check", str(work), "--only", "rnn_basics,bptt"],
                            cwd=bundle, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "2000"})       # rich's table: one line per row
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    for key in ("diag_rnn_step_sigmoid", "diag_softmax_overflow"):
        assert Message(key).render("pt") in result.stdout, (key, result.stdout[-3000:])
    assert Message("diag_jacobian_order").render("pt") not in result.stdout    # needs diagnoses.py


def test_release_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").write_text("")
    with pytest.raises(FileExistsError):
        write_bundle(tmp_path, POLICY)


@pytest.mark.slow
def test_bundle_check_runs_in_a_fresh_virtualenv_with_only_its_requirements(bundle, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-qq", "-r", "requirements.txt"],
                             cwd=bundle, capture_output=True, text=True, timeout=1500)
    assert install.returncode == 0, install.stderr[-2000:]
    python = str(venv / "bin" / "python")
    stubs = subprocess.run([python, "-m", "autograder", "check"], cwd=bundle, capture_output=True, text=True,
                           timeout=900)
    assert stubs.returncode == 1 and "ainda não passam" in stubs.stdout, stubs.stdout + stubs.stderr
    work = tmp_path / "filled"
    work.mkdir()
    for module in MODULES:
        shutil.copy(SOLUTIONS / f"{module}.py", work)
    solved = subprocess.run([python, "-m", "autograder", "check", str(work)], cwd=bundle, capture_output=True,
                            text=True, timeout=900)
    assert solved.returncode == 0, solved.stdout[-3000:] + solved.stderr[-2000:]
