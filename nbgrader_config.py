"""nbgrader configuration: the repository root is the course directory (source/<module>/)."""

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "hands-on-dl-rnn"
c.CourseDirectory.assignment_id = ""
# the practical tasks train models inside their test cells
c.Execute.timeout = 600
c.ClearSolutions.code_stub = {"python": "# SEU CÓDIGO AQUI\nraise NotImplementedError()"}
# a test cell a student deleted is put back (and graded) instead of needing a manual grade
c.OverwriteCells.add_missing_cells = True
# the release's stub for a written answer (nbgrader's manually graded markdown cells)
c.ClearSolutions.text_stub = "SUA RESPOSTA AQUI"
