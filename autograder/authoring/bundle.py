"""`python -m autograder release OUT_DIR`: what students get, and nothing they must not see.

The bundle holds the released notebooks (made by `nbgrader generate_assignment` on a
temporary copy of the course, each with an install cell first), the `.py` stubs, the student
package (a wheel: the public checks, stored fixtures and a public `grading.toml` with the hidden
seed blanked out; `autograder/authoring/student_package.py`) and a README in Portuguese with an English
section. No reference solutions, no hidden seed, no hidden expected outputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .codegen import ASSIGNMENTS, HINT, ROOT, hinted_raise
from .lessons import SOURCE

HIDDEN_SEED = re.compile(r"^(hidden_seed\s*=\s*)\d+(.*)$", re.MULTILINE)
SETUP_CELL_TAG = "autograder_install"  # the setup cell's metadata key: the bundle adds it, `grade` ignores it

# The first cell of every released notebook: installs the student package when it is missing
# (a wheel beside the notebook or one folder up, else the URL given at release), else nothing.
# Under nbgrader's autograde the grader is importable, so it does nothing there either.
SETUP_CELL = """\
# Preparação: instala o corretor (pacote `autograder`) se ele ainda não estiver instalado.
# Setup: installs the grader (the `autograder` package) when it is missing; otherwise does nothing.
import importlib.util
if importlib.util.find_spec("autograder") is None:
    import pathlib, subprocess, sys
    _wheels = [*pathlib.Path.cwd().glob("{wheel_glob}"), *pathlib.Path.cwd().parent.glob("{wheel_glob}")]
    _package = str(sorted(_wheels)[-1]) if _wheels else {url!r}
    if _package is None:
        raise FileNotFoundError("Coloque o arquivo {wheel} ao lado deste notebook "
                                "(put {wheel} beside this notebook) e rode esta célula de novo.")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _package], check=True)
    importlib.invalidate_caches()
"""

README = """# Aula 4 — Redes Recorrentes: exercícios

Você recebeu: `notebooks/` (os exercícios em Jupyter), `assignments/` (os mesmos exercícios em
arquivos `.py`) e `{wheel}`, o corretor com os testes públicos. Instale o corretor uma vez
(Python 3.11, 3.12 ou 3.13); depois `check` e as células de teste dos notebooks funcionam em
qualquer pasta.

## Linux e macOS

```bash
python3 -m venv .venv
.venv/bin/python -m pip install "./{wheel}[notebook]"
.venv/bin/jupyter notebook notebooks/        # complete as células de resposta e rode a de teste
.venv/bin/python -m autograder check         # confere assignments/ (ou: check notebooks)
```

## Windows (PowerShell)

```powershell
py -m venv .venv
.venv\\Scripts\\python -m pip install ".\\{wheel}[notebook]"
.venv\\Scripts\\jupyter notebook notebooks
.venv\\Scripts\\python -m autograder check
```

## Google Colab e JupyterHub

Abra o notebook (no Colab: *Arquivo → Fazer upload de notebook*) e envie `{wheel}` para a
mesma pasta (no Colab: o painel *Arquivos*, pasta `/content`). A primeira célula do notebook
instala o corretor quando ele falta{url_note}; rode-a antes das outras. Pelo terminal:
`pip install {wheel}`.

## Como trabalhar e conferir

* Nos notebooks: complete cada célula de resposta e rode a célula de teste logo abaixo. Código
  fora das células de resposta não é corrigido (escreva funções auxiliares dentro delas).
* Nos arquivos `.py` de `assignments/`: troque cada `raise NotImplementedError(...)` pelo seu
  código (a mensagem traz uma dica) e rode `python -m autograder check` na pasta do pacote
  (`check --only rnn_basics` para um módulo, `check notebooks` para os notebooks, `--lang en`
  em inglês). O código de saída é 1 enquanto algum exercício não passa.

Os testes públicos usam dados fixos; a nota final usa também testes ocultos, com outros dados.
Cada mensagem diz o que era esperado e o que veio (forma, maior erro, passo de tempo) e, para
erros comuns, qual deve ser o engano. Fora do Linux (ou no Linux sem root) o seu código roda
num processo comum: o limite de tempo vale sempre; o de memória, onde o sistema o oferece.
As respostas escritas (células de texto "SUA RESPOSTA AQUI" nos notebooks) são corrigidas à mão
pelo professor: `check` não as avalia.

## English

You got `notebooks/` (the exercises as Jupyter notebooks), `assignments/` (the same as `.py`
files) and `{wheel}`, the grader with the public checks. Install it once (Python 3.11–3.13):

* Linux / macOS: `python3 -m venv .venv`, then `.venv/bin/python -m pip install "./{wheel}[notebook]"`;
  work with `.venv/bin/jupyter notebook notebooks/`, check with `.venv/bin/python -m autograder check`.
* Windows PowerShell: `py -m venv .venv`, then `.venv\\Scripts\\python -m pip install ".\\{wheel}[notebook]"`;
  `.venv\\Scripts\\jupyter notebook notebooks`, `.venv\\Scripts\\python -m autograder check`.
* Colab / JupyterHub: upload the notebook and `{wheel}` into the same folder (Colab: `/content`)
  and run the notebook's first cell, which installs the grader when it is missing{url_note_en}.

Fill in each answer cell and run the test cell below it (code outside answer cells is not
graded), or replace each `raise NotImplementedError(...)` in `assignments/` and run
`python -m autograder check` (`--only rnn_basics`, `check notebooks`, `--lang en`). The public
checks use fixed data; the final grade also runs hidden checks on other data. The written answers
(the "SUA RESPOSTA AQUI" text cells) are graded by hand by your instructor; `check` does not grade them.
"""


def _released_notebooks(modules, into: Path) -> None:
    """Run nbgrader's release on a temporary copy of the course."""
    with tempfile.TemporaryDirectory() as course:
        course = Path(course)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(SOURCE, course / "source")
        nbgrader = Path(sys.executable).parent / "nbgrader"
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
        for module in modules:
            result = subprocess.run(
                [str(nbgrader), "generate_assignment", module, "--force"],
                cwd=course,
                env=env,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {module} failed:\n{result.stderr[-2000:]}")
            shutil.copy(course / "release" / module / f"{module}.ipynb", into / f"{module}.ipynb")


def setup_cell_source(package_url: str | None = None) -> str:
    from .student_package import DISTRIBUTION, wheel_name

    return SETUP_CELL.format(wheel_glob=f"{DISTRIBUTION}-*.whl", wheel=wheel_name(), url=package_url)


def with_setup_cell(notebook: dict, package_url: str | None = None) -> dict:
    """The notebook (nbformat JSON) with the install cell first; untagged for nbgrader, so
    autograde and `grade` treat it as one of the student's own cells."""
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": SETUP_CELL_TAG,
        "metadata": {SETUP_CELL_TAG: True},
        "outputs": [],
        "source": setup_cell_source(package_url),
    }
    return {**notebook, "cells": [cell, *notebook["cells"]]}


def hinted_stub(source: str) -> str:
    """An answer cell whose nbgrader stub (`raise NotImplementedError()` two lines below the
    `# Dica:` comment) raises the hint, as the `.py` stubs do: the test cell then shows it."""
    lines = source.splitlines(keepends=True)
    for number in range(2, len(lines)):
        hint = HINT.match(lines[number - 2])
        if hint and lines[number].strip() == "raise NotImplementedError()":
            indent = lines[number][: len(lines[number]) - len(lines[number].lstrip())]
            newline = "\n" if lines[number].endswith("\n") else ""
            lines[number] = hinted_raise(indent, hint["hint"]).rstrip("\n") + newline
    return "".join(lines)


def _prepare_notebooks(folder: Path, package_url: str | None) -> None:
    """Each released notebook: the install cell first, the hints in its stubs."""
    for path in sorted(folder.glob("*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = hinted_stub("".join(cell["source"]))
        path.write_text(
            json.dumps(with_setup_cell(notebook, package_url), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )


def public_policy(policy_path: Path) -> str:
    """The policy with its hidden seed blanked out."""
    return "# Cópia pública para estudantes: a semente dos testes ocultos não está aqui.\n" + HIDDEN_SEED.sub(
        r"\g<1>0\2", Path(policy_path).read_text(encoding="utf-8")
    )


def readme_text(package_url: str | None = None) -> str:
    from .student_package import wheel_name

    return README.format(
        wheel=wheel_name(),
        url_note=f" (de {package_url})" if package_url else "",
        url_note_en=f" (from {package_url})" if package_url else "",
    )


def write_bundle(out: Path, policy_path: Path, *, package_url: str | None = None) -> Path:
    from ..grading.policy import load_policy
    from .student_package import write_wheel

    modules = list(load_policy(policy_path).modules)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    _released_notebooks(modules, out / "notebooks")
    _prepare_notebooks(out / "notebooks", package_url)
    (out / "assignments").mkdir()
    for module in modules:
        shutil.copy(ASSIGNMENTS / f"{module}.py", out / "assignments")
    write_wheel(out, public_policy(policy_path))
    (out / "README.md").write_text(readme_text(package_url), encoding="utf-8")
    return out
