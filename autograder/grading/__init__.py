"""One submission's grading, stage by stage: `policy` (grading.toml → Policy), `submission`
(the folder → what is graded), `runner` (the checks under pytest → one `outcomes.Outcome` per
exercise), `scoring` (outcomes × points → Report), `report` (table, JSON, Gradescope results);
`pipeline` runs them in order (the `grade` command); `feedback` and `report_plots` render a
student's report.md/html, `notebook` is the notebooks' `grade_cell`.

May import: exercises, sandbox, messages. Never classroom, authoring or cli.
"""
