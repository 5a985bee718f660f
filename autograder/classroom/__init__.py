"""A whole class: `classroom` (grade-all, one forked worker per student), `class_results` (the
results folder, manifest and hashes), `gradebook`, `progress`, `class_report/`, `cluster` and
`cluster_task` (grade-all on Dask), `gradescope` (the autograder zip). Left out of the student package.

May import: grading, exercises, sandbox, messages. Not authoring.
"""
