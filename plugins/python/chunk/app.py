"""`chunk`: a stage executor written in Python, proving troupe plugins need not be Rust.

Like scatter, but one task per chunk of items instead of one per item, for actors that
work better on batches (bulk inserts, batched API calls):

    {"name": "load", "mode": "chunk", "actor": "BulkWriter",
     "scatter": {"input": "$.trigger.rows", "as": "rows"},
     "input": {"rows": "$.rows", "part": "$.index"},
     "executorConfig": {"size": 500}}

Task i gets the items [i*size, (i+1)*size) bound to `$.<as>` and i bound to `$.index`.
The stage's output is the list of chunk results in order.

Built against `troupe:executor@0.2.0`: a failed host call says what kind of failure it
is (`host-error`), so the executor decides by kind alone: `unavailable` (transient) is
returned as `retryable` (the host calls `execute` again; task ids make that safe), every
other kind as `fatal`, each prefixed with the field or call it concerns.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import context, queue, types


def _problems(definition, config):
    problems = []
    actor = definition.get("actor")
    if not isinstance(actor, str) or not actor:
        problems.append(types.Problem("actor", "is required: the actor that processes each chunk"))
    scatter = definition.get("scatter")
    if not isinstance(scatter, dict):
        problems.append(types.Problem("scatter", "is required: {\"input\": \"$.path.to.array\", \"as\": \"name\"}"))
    else:
        path = scatter.get("input")
        if not isinstance(path, str) or not path.startswith("$"):
            problems.append(types.Problem("scatter.input", "must be a JSONPath string starting with `$`"))
        name = scatter.get("as")
        if not isinstance(name, str) or not name.isidentifier():
            problems.append(types.Problem("scatter.as", "must be a name such as `rows`"))
    size = config.get("size", 100)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        problems.append(types.Problem("executorConfig.size", f"must be a positive integer, found {json.dumps(size)}"))
    return problems


def _fatal(message):
    return Err(types.ExecutorError_Fatal(message))


def _executor_error(what, error):
    """The executor error a failed host call calls for, decided by the `host-error` case
    alone: the message is only passed on, after `what` (the field or call concerned)."""
    message = f"{what}: {error.value}"
    if isinstance(error, types.HostError_Unavailable):
        return Err(types.ExecutorError_Retryable(message))
    return _fatal(message)


def _host(what, call, *args):
    """Make a host call; a failure is raised as the executor error its kind calls for."""
    try:
        return call(*args)
    except Err as failure:
        raise _executor_error(what, failure.value)


class StageExecutor(exports.StageExecutor):
    def name(self) -> str:
        return "chunk"

    def validate(self, stage: types.Stage):
        return _problems(json.loads(stage.definition), json.loads(stage.config or "{}"))

    def plan(self, stage: types.Stage):
        return types.StagePlan(early_start=None, hooks=types.Hooks(0))

    def execute(self, stage: types.Stage):
        definition = json.loads(stage.definition)
        config = json.loads(stage.config or "{}")
        problems = _problems(definition, config)
        if problems:
            raise _fatal("; ".join(f"{p.field}: {p.message}" for p in problems))
        size = config.get("size", 100)
        scatter = definition["scatter"]
        matches = json.loads(_host("scatter.input", context.query, scatter["input"], None))
        items = matches[0] if len(matches) == 1 and isinstance(matches[0], list) else matches
        template = json.dumps(definition.get("input", {}))
        tasks = []
        for index, start in enumerate(range(0, len(items), size)):
            bindings = json.dumps({scatter["as"]: items[start:start + size], "index": index})
            task_input = _host(f"input (chunk {index})", context.resolve_input, template, bindings)
            tasks.append(queue.Task(index=index, actor=definition["actor"], input=task_input, key=None))
        if tasks:
            options = queue.EnqueueOptions(delay_ms=0, max_parallel=config.get("maxParallel"), rate_limit=None,
                                           skip=None)
            try:
                queue.enqueue_batch(tasks, options)
            except Err as failure:
                # An actor the manifest lacks is the stage's `actor` field's fault.
                unknown = isinstance(failure.value, types.HostError_NotFound)
                raise _executor_error("actor" if unknown else "enqueue", failure.value)
        return types.Execution(
            expected_tasks=len(tasks),
            metadata=json.dumps({"items": len(items), "chunks": len(tasks), "size": size}),
            output=types.OutputShape.LIST,
            detached=False,
        )

    def before_task(self, stage, task):
        return types.Admission_Run()

    def after_task(self, stage, task, outcome):
        return types.Verdict_Accept()
