"""Where student code runs, and how the grader talks to it.

`sandbox` (StudentProcess: the confined child), `settings` (its limits and grading.toml's
`[sandbox]`), `isolation` and `cgroups` (the namespaces, root filesystem and cgroup),
`template_client` (grade-all's warm template), `portable` (the runner without namespaces),
`channel` (framed pipes), `proxies` (the objects the checks call student code through),
`runtime` (what a child starts from). The child's runtime files, copied into it as package
`gradechild` (runtime.RUNTIME_FILES): `template`, `zygote`, `child`, `wire`, `modules` and the
tracer's `tracing`, `patches`, `tracer_state`; they import only each other, relatively.

May import: messages only; the runtime files nothing of the grader outside themselves.
"""
