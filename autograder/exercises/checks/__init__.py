"""The checks: one pytest function `check_<exercise>` per exercise, per module file.

Each takes the fixtures `student` (the student's module, running in a child process),
`cases` (this exercise's public and, when grading, hidden cases) and `tol` (float64
tolerances). It passes, raises `CheckFailure` with messages, or `PartialCredit`.
"""
