"""The instructor's authoring tools: `codegen` (solutions/ → assignments/ stubs), `lessons`
(lessons/ + solutions/ → the nbgrader notebooks), `bundle` (the student release) and
`student_package` (its wheel). Left out of the student package.

May import: grading, exercises, sandbox, messages. Not classroom.
"""
