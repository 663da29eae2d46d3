"""Running student code: the child process and its limits (process, limits, bwrap), what runs inside it
(child, tasks, guard, watch, trace, errors), the parent-child protocol (protocol), the parent's driver
(runner) and what is graded in a submission folder (submission).

Kept empty on purpose: the child imports `grader.sandbox.child`, and only CHILD_MODULES exist in its sandbox."""
