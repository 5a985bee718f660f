"""The student bundle: everything students need, nothing they must not see (the slow test that
installs it as its README says and runs its notebooks is tests/test_bundle_install.py)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import zipfile

import pytest

from autograder.authoring import codegen
from autograder.authoring.bundle import readme_text, setup_cell_source, write_bundle
from autograder.authoring.student_package import wheel_name
from autograder.grading.policy import load_policy
from conftest import POLICY, SOLUTIONS

MODULES = list(load_policy(POLICY).modules)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return write_bundle(tmp_path_factory.mktemp("bundle") / "out", POLICY)


@pytest.fixture(scope="module")
def package(bundle, tmp_path_factory):
    """The student package unpacked as pip lays out a pure wheel (its files, by path)."""
    folder = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(bundle / wheel_name()) as wheel:
        wheel.extractall(folder)
    return folder


def bundle_files(bundle, package):
    return [p for p in [*bundle.rglob("*"), *package.rglob("*")] if p.is_file()]


def test_bundle_has_notebooks_stubs_and_the_package_with_checks_fixtures_and_policy(bundle, package):
    for module in MODULES:
        notebook = json.loads((bundle / "notebooks" / f"{module}.ipynb").read_text())
        assert "".join(notebook["cells"][0]["source"]) == setup_cell_source(), module  # the install cell first
        stubs = [
            "".join(c["source"])
            for c in notebook["cells"]  # answer code cells (not the written answers)
            if c["cell_type"] == "code" and c["metadata"].get("nbgrader", {}).get("solution")
        ]
        assert stubs and all("raise NotImplementedError('Dica: " in stub for stub in stubs), module
        assert not any("raise NotImplementedError()" in stub for stub in stubs), module
        assert (bundle / "assignments" / f"{module}.py").read_text() == (
            codegen.ASSIGNMENTS / f"{module}.py"
        ).read_text()
        assert (package / "autograder" / "exercises" / "checks" / f"{module}.py").is_file()
        assert (package / "autograder" / "exercises" / "fixtures" / f"{module}.npz").is_file()
    assert (package / "autograder" / "exercises" / "checks" / "pytest.ini").is_file()
    readme = (bundle / "README.md").read_text()
    assert "Instalação" not in readme and "## Windows (PowerShell)" in readme and "## English" in readme
    assert f'pip install "./{wheel_name()}[notebook]"' in readme and "Colab" in readme
    left_out = {
        "codegen.py",
        "lessons.py",
        "bundle.py",
        "diagnoses.py",
        "classroom.py",
        "student_package.py",
        "scaffold.py",
    }
    assert not left_out & {p.name for p in package.rglob("*")}
    assert not (package / "autograder" / "classroom").exists() and not (package / "autograder" / "authoring").exists()
    assert not (bundle / "autograder").exists()


def test_the_package_url_goes_into_the_install_cell_and_the_readme():
    url = "https://example.org/kit.whl"
    assert f"else {url!r}" in setup_cell_source(url) and "else None" in setup_cell_source()
    assert f"(de {url})" in readme_text(url) and f"(from {url})" in readme_text(url)


def test_the_install_cell_does_nothing_where_the_grader_is_importable(monkeypatch):
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    exec(setup_cell_source(), {})
    assert ran == []


def test_the_install_cell_installs_the_wheel_beside_the_notebook_when_the_grader_is_missing(monkeypatch, tmp_path):
    import importlib.util

    (tmp_path / "notebooks").mkdir()
    (tmp_path / wheel_name()).write_bytes(b"")  # one folder up, as in the bundle
    monkeypatch.chdir(tmp_path / "notebooks")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "autograder" else find_spec(name, *a)
    )
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda command, **k: ran.append(command))
    exec(setup_cell_source("https://example.org/kit.whl"), {})
    assert ran == [[sys.executable, "-m", "pip", "install", "--quiet", str(tmp_path / wheel_name())]]


def test_bundle_hides_the_reference_and_the_hidden_seed(bundle, package):
    seed = str(load_policy(POLICY).hidden_seed).encode()
    assert not (bundle / "solutions").exists()
    assert load_policy(package / "autograder" / "grading.toml").hidden_seed == 0
    # distinctive reference code: two consecutive non-trivial lines of a solution region, or
    # one long line (a single loop header such as `for layer in range(layers):` is not a leak)
    reference_lines = set()
    for module in MODULES:
        source = (SOLUTIONS / f"{module}.py").read_text()
        for begin, end, _, _ in codegen.solution_regions(source):
            region = [line.strip() for line in source.splitlines()[begin + 1 : end]]
            reference_lines |= {line for line in region if len(line) > 45}
            reference_lines |= {f"{a}\n{b}" for a, b in itertools.pairwise(region) if min(len(a), len(b)) > 15}
    for path in bundle_files(bundle, package):
        data = path.read_bytes()
        assert seed not in data, path
        assert b"BEGIN HIDDEN TESTS" not in data and b"BEGIN SOLUTION" not in data, path
        if path.suffix in (".py", ".ipynb", ".md", ".toml", ".txt"):
            text = "\n".join(line.strip() for line in data.decode().splitlines())
            leaked = [line for line in reference_lines if line in text]
            assert not leaked, (path, leaked[:3])


def test_check_in_the_package_names_the_mistakes_public_cases_can_show(package, tmp_path):
    """Without the instructor-only diagnoses.py, `check` still names what the public cases show."""
    from autograder.messages import Message
    from conftest import patched_source

    work = tmp_path / "work"
    work.mkdir()
    (work / "rnn_basics.py").write_text(
        patched_source(
            "rnn_basics",
            [
                (
                    "return np.tanh(x @ W_xh.T + h_prev @ W_hh.T + b_h)",
                    "return sigmoid(x @ W_xh.T + h_prev @ W_hh.T + b_h)",
                )
            ],
        )
    )
    (work / "bptt.py").write_text(
        patched_source(
            "bptt",
            [
                ("shifted = logits - logits.max(axis=-1, keepdims=True)", "shifted = logits"),
                (
                    "product = product @ ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh)",
                    "product = ((1.0 - hs[k + 1] ** 2)[:, None] * W_hh) @ product",
                ),
            ],
        )
    )
    # this venv's editable install would resolve the package's missing modules from the project: drop it
    package_only = (
        "import sys; sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, '__module__', '')"
        f".startswith('__editable__')]; sys.path.insert(0, {str(package)!r}); "
        "from autograder.cli import main; sys.exit(main())"
    )
    result = subprocess.run(
        [sys.executable, "-c", package_only, "check", str(work), "--only", "rnn_basics,bptt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "2000"},
    )  # rich's table: one line per row
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    for key in ("diag_rnn_step_sigmoid", "diag_softmax_overflow"):
        assert Message(key).render("pt") in result.stdout, (key, result.stdout[-3000:])
    assert Message("diag_jacobian_order").render("pt") not in result.stdout  # needs diagnoses.py


def test_release_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "x").write_text("")
    with pytest.raises(FileExistsError):
        write_bundle(tmp_path, POLICY)
