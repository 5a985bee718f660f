"""What is graded: the API contract (`contract`), one check and one case generator per exercise
(`checks/`, `cases/`, stored public data in `fixtures/`), how results are compared (`expect`)
and diagnosed (`diagnoses`, only the instructor's kit), the practical tasks' data
(`datasets`, `transforms`), training and scoring (`practical`, `practical_feedback`,
`recurrent_use`), the from-scratch rules (`scratch`), the limits on data in code
(`embedded_data`), plot data (`artifacts`) and the lecture's figures (`plots`).

May import: sandbox, messages. Never grading, classroom, authoring or cli.
"""
