"""Where student code runs, and how the grader talks to it.

`sandbox` (StudentProcess: the confined child, its limits), `isolation` and `cgroups` (the
namespaces, root filesystem and cgroup), `portable` (the runner without them), `channel`
(framed pipes), `proxies` (the objects the checks call student code through). The child's
runtime, copied into it as package `gradechild` (sandbox.RUNTIME_FILES): `zygote`, `child`,
`wire`, `modules`, `tracing` — they import only each other, relatively, and the standard library.

May import: messages only (and nothing of the grader at all in the runtime files).
"""
