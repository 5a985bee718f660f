"""`python -m autograder release OUT_DIR`: what students get, and nothing they must not see.

The bundle holds the released notebooks (made by `nbgrader generate_assignment` on a
temporary copy of the course), the `.py` stubs, the grader with its public checks and stored
fixtures, a public `grading.toml` (the hidden seed blanked out), pinned requirements and a
README in Portuguese. No reference solutions, no hidden seed, no hidden expected outputs.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .codegen import ASSIGNMENTS, ROOT
from .lessons import SOURCE

STUDENT_PACKAGES = ("torch", "numpy", "rich", "pytest", "scikit-learn", "faker", "statsmodels", "matplotlib")
# they handle solutions and hidden tests, or compute mistakes with the answer's own code
INSTRUCTOR_ONLY = ("codegen.py", "lessons.py", "bundle.py", "diagnoses.py")
HIDDEN_SEED = re.compile(r"^(hidden_seed\s*=\s*)\d+(.*)$", re.MULTILINE)

README = """# Aula 4 — Redes Recorrentes: exercícios

## Instalação (uma vez)

```bash
python3.11 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/pip install -r requirements-notebook.txt   # para abrir os notebooks no Jupyter
```

## Como trabalhar

* Nos notebooks (`notebooks/`): `.venv/bin/jupyter notebook notebooks/`; complete as células de
  resposta e rode a célula de teste logo abaixo de cada uma.
* Ou nos arquivos `.py` de `assignments/`: troque cada `raise NotImplementedError(...)` pelo seu
  código (a mensagem traz uma dica).

## Conferir o seu trabalho

```bash
.venv/bin/python -m autograder check                      # todos os módulos em assignments/
.venv/bin/python -m autograder check --only rnn_basics     # um módulo
.venv/bin/python -m autograder check notebooks             # os notebooks
```

Os testes públicos usam dados fixos; a nota final usa também testes ocultos, com outros dados.
Cada mensagem diz o que era esperado e o que veio (forma, maior erro, passo de tempo) e, para
erros comuns, qual deve ser o engano. Código fora das células de resposta não é corrigido.
As respostas escritas (células de texto "SUA RESPOSTA AQUI" nos notebooks) são corrigidas à mão
pelo professor: `check` não as avalia.
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
            result = subprocess.run([str(nbgrader), "generate_assignment", module, "--force"], cwd=course,
                                    env=env, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(f"nbgrader generate_assignment {module} failed:\n{result.stderr[-2000:]}")
            shutil.copy(course / "release" / module / f"{module}.ipynb", into / f"{module}.ipynb")


def _requirements(lock: Path, packages) -> str:
    pins = [line for line in lock.read_text().splitlines() if line.split("==")[0].lower() in packages]
    return "# Versões fixas: as mesmas do corretor.\n-c constraints.txt\n" + "\n".join(pins) + "\n"


def write_bundle(out: Path, policy_path: Path) -> Path:
    from .policy import load_policy
    modules = list(load_policy(policy_path).modules)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    _released_notebooks(modules, out / "notebooks")
    (out / "assignments").mkdir()
    for module in modules:
        shutil.copy(ASSIGNMENTS / f"{module}.py", out / "assignments")
    shutil.copytree(ROOT / "autograder", out / "autograder", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", *INSTRUCTOR_ONLY))
    public_policy = ("# Cópia pública para estudantes: a semente dos testes ocultos não está aqui.\n"
                     + HIDDEN_SEED.sub(r"\g<1>0\2", policy_path.read_text(encoding="utf-8")))
    (out / "grading.toml").write_text(public_policy, encoding="utf-8")
    shutil.copy(ROOT / "requirements.lock", out / "constraints.txt")
    lock = ROOT / "requirements.lock"
    (out / "requirements.txt").write_text(_requirements(lock, STUDENT_PACKAGES), encoding="utf-8")
    (out / "requirements-notebook.txt").write_text(_requirements(lock, ("notebook",)), encoding="utf-8")
    (out / "README.md").write_text(README, encoding="utf-8")
    return out
