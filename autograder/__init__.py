"""Autograder of the RNN exercise kit (Hands-on Deep Learning, lecture 4).

The subpackages, each importing only those after it (tests/test_layout.py checks it):

- `classroom/` (a whole class: grade-all, gradebook, class report, Gradescope, Dask) and
  `authoring/` (stubs, notebooks, the student bundle): the instructor's tools, peers;
- `grading/`: the pipeline of one submission (policy, submission, runner, scoring, report,
  the feedback report, the notebooks' `grade_cell`);
- `exercises/`: what is graded (the API contract, checks, case generators, fixtures, the
  practical tasks' data and scoring, the from-scratch rules);
- `sandbox/`: where student code runs (the confined child and its runtime, the wire format,
  the proxies the checks call it through);
- base: `messages.py` and `locale/` (the feedback texts), and this file's paths.

`cli.py` (and `__main__.py`) sit above them all.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent  # autograder/
PROJECT = PACKAGE.parent  # the kit's checkout (solutions/, lessons/, grading.toml)
