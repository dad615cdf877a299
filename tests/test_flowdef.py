"""Flow definitions from a YAML file, a notebook and Python; templates; definition-time errors."""

from __future__ import annotations

import json

import pytest

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.flowdef import Flow, FlowDef
from jupyter_jobflow.core.flowsources import definitions, from_notebook, from_yaml
from jupyter_jobflow.core.templates import parse_template, resolve

FLOW_YAML = """\
# flow.yaml
tasks:
  prep:   {command: "python prep.py"}
  train:  {template: train, params: {lr: 0.1}, depends: prep, gpus: 1, retries: 1, time: "1:00:00"}
  report: {command: "python report.py {{run_id}}", depends: "afterok:train?afternotok:prep"}
"""

TRAIN_YAML = """\
# train.yaml (a template)
command: "python train.py --lr {{params.lr}} --tag {{uuid.uuid4().hex[:4]}}"
params:
  lr: {type: float, default: 0.01, help: learning rate}
"""


def versions(*texts: str) -> dict:
    return {"train": {n: parse_template("train", t) for n, t in enumerate(texts, 1)}}


def notebook(*cells: str) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": c.splitlines(keepends=True), "metadata": {},
                                  "outputs": [], "execution_count": None} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def error(call, *args, **kwargs) -> str:
    with pytest.raises(InvalidSpec) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_issues_flow_and_template_work_as_written():
    templates = versions(TRAIN_YAML)
    flow = from_yaml("etl", FLOW_YAML, templates=templates)
    assert flow.names == ("prep", "train", "report")
    train = flow.task("train")
    assert (train.template, train.params, train.depends, train.gpus, train.retries, train.time_limit) == (
        "train", {"lr": 0.1}, "afterok:prep", 1, 1, 3600)
    assert flow.task("report").depends == "afterok:train?afternotok:prep"
    assert flow.graph() == {"prep": (), "train": ("prep",), "report": ("train", "prep")}
    template = flow.check_templates(templates)["train"]
    assert template.version == 1 and template.values({"lr": 0.1}) == {"lr": 0.1}
    assert template.values(None) == {"lr": 0.01}


def test_a_definition_round_trips_through_json_with_the_same_hash():
    flow = from_yaml("etl", FLOW_YAML)
    again = FlowDef.from_dict(json.loads(json.dumps(flow.to_dict())))
    assert again == flow and again.hash == flow.hash and len(flow.hash) == 64
    changed = from_yaml("etl", FLOW_YAML.replace("prep.py", "prep2.py"))
    assert changed.hash != flow.hash
    assert changed.task_hash("prep") != flow.task_hash("prep") and changed.task_hash("train") == flow.task_hash("train")


def test_the_same_flow_from_notebook_yaml_and_python_is_one_definition():
    nb = notebook(
        "import os\nLR = 0.1\nprint('hello')\n",
        "%%gbatch --name prep --shell\npython prep.py\n",
        "%%gbatch --task train --depends-on @ --gpus 1 --retries 1 -t 1:00:00 --out model\nmodel = LR * 2",
        "%%gbatch --name report -d afterok:train?afternotok:@~1 --in model\nprint(model)\n",
        "df.head()",
    )
    yaml_text = """\
preamble: |
  import os
  LR = 0.1
tasks:
  prep: {script: "python prep.py"}
  train: {cell: "model = LR * 2", depends: prep, gpus: 1, retries: 1, time: "1:00:00", out: [model]}
  report:
    cell: |
      print(model)
    depends: afterok:train?afternotok:prep
    in: model
"""
    python = (Flow("etl", preamble="import os\nLR = 0.1")
              .task("prep", script="python prep.py\n")
              .task("train", cell="model = LR * 2\n", depends=["prep"], gpus=1, retries=1, time="1:00:00",
                    outputs=["model"])
              .task("report", cell="print(model)", depends="afterok:train?afternotok:prep", inputs="model")
              .build())
    from_nb, from_file = from_notebook("etl", nb), from_yaml("etl", yaml_text)
    assert from_nb == from_file == python
    assert from_nb.hash == from_file.hash == python.hash
    assert (from_nb.origin, from_file.origin, python.origin) == ("notebook", "yaml", "python")
    assert from_nb.task("prep").script == "python prep.py\n" and from_nb.task("train").cell == "model = LR * 2\n"


def test_the_notebook_preamble_is_definitions_only():
    cell = ("import numpy as np\nfrom math import pi\n%matplotlib inline\n!pip list\nSEED = 7\n"
            "data = load()\n\n@decorate\ndef f(x):\n    return x\n\nclass C:\n    pass\nf(1)\ndisplay(data)\n")
    assert definitions(cell) == ["import numpy as np", "from math import pi", "SEED = 7",
                                 "@decorate\ndef f(x):\n    return x", "class C:\n    pass"]
    assert definitions("%%time\nimport os") == [] and definitions("x = (") == []


def test_notebook_cells_keep_no_template_and_read_directives():
    warnings: list[str] = []
    flow = from_notebook("nb", notebook("%%gbatch --name a --no-template\n#SBATCH --gpus 2\n#SBATCH -p gpu\nx = '{{y}}'"),
                         warnings=warnings)
    task = flow.task("a")
    assert task.no_template and task.gpus == 2
    assert len(warnings) == 1 and warnings[0].startswith("cell 1 of the notebook: ")


def test_a_task_may_name_its_executor_and_slurm_options_in_yaml_a_cell_or_python():
    from_file = from_yaml("etl", "tasks:\n  prep: {command: x}\n"
                                 "  train: {command: y, executor: slurm, slurm: {partition: gpu, mem: 16G}}\n")
    from_cell = from_notebook("etl", notebook("%%gbatch --name prep --shell\nx\n",
                                              "%%gbatch --name train --shell --executor slurm -p gpu --mem 16G\ny\n"))
    python = Flow("etl").task("prep", command="x").task("train", command="y", executor="slurm",
                                                        slurm={"partition": "gpu", "mem": "16G"}).build()
    train = from_file.task("train")
    assert (train.executor, train.slurm) == ("slurm", {"partition": "gpu", "mem": "16G"})
    assert from_file.task("prep").executor is None  # the host's default
    for same in (from_cell.task("train"), python.task("train")):
        assert (same.executor, same.slurm) == (train.executor, train.slurm)
    # a task that names neither keeps the hash it had before these keys existed
    assert "executor" not in from_file.task("prep").to_dict() and "slurm" not in from_file.task("prep").to_dict()
    assert FlowDef.from_dict(json.loads(json.dumps(from_file.to_dict()))) == from_file


def test_trigger_rules_compile_to_the_dependency_grammar():
    def depends(trigger):
        flow = Flow("f").task("a", command="a").task("b", command="b").task("c", command="c", depends=["a", "b"],
                                                                            trigger=trigger).build()
        return flow.task("c").depends, flow.task("c").trigger

    assert depends("all_success") == ("afterok:a:b", None)
    assert depends("all_failed") == ("afternotok:a:b", None)
    assert depends("all_done") == ("afterany:a:b", None)
    assert depends("one_success") == ("afterok:a?afterok:b", None)
    assert depends("one_failed") == ("afternotok:a?afternotok:b", None)
    assert depends("one_done") == ("afterany:a?afterany:b", "one_done")
    assert depends("none_failed") == ("afterany:a:b", "none_failed")
    assert depends("always") == ("", "always")
    assert error(depends, "one_sucess") == ('Unknown trigger "one_sucess" of task "c" in flow "f" (did you mean '
                                            '"one_success"?); expected one of: all_success, all_failed, all_done, '
                                            "one_success, one_failed, one_done, none_failed, "
                                            "none_failed_min_one_success, none_skipped, all_skipped, always")


@pytest.mark.parametrize("text, message", [
    ("tasks:\n  a: {command: x}\n  b: {command: y}\n  a: {command: z}\n",
     'Duplicate task name "a" in flow "etl" (tasks 1 and 3)'),
    ("tasks:\n  - {name: a, command: x}\n  - {name: a, command: y}\n",
     'Duplicate task name "a" in flow "etl" (tasks 1 and 2)'),
    ("tasks:\n  prep: {command: x}\n  train: {command: y, depends: trian}\n",
     'Task "train" depends on "trian", which is not a task of flow "etl" (did you mean "train"?)'),
    ("tasks:\n  prep: {command: x, depends: train}\n  train: {command: y, depends: prep}\n",
     'Circular dependency: prep -> train -> prep (flow "etl")'),
    ("tasks:\n  a: {command: x, depends: c}\n  b: {command: y, depends: a}\n  c: {command: z, depends: 'afterany:b'}\n",
     'Circular dependency: a -> c -> b -> a (flow "etl")'),
    ("tasks:\n  a: {command: x, depends: a}\n", 'Circular dependency: a -> a (flow "etl")'),
    ("tasks:\n  a: {gpus: 1}\n",
     'Task "a" of flow "etl" needs exactly one of command:, script:, cell: or template: (has none)'),
    ("tasks:\n  a: {command: x, script: y}\n",
     'Task "a" of flow "etl" needs exactly one of command:, script:, cell: or template: (has command and script)'),
    ("tasks:\n  a: {command: x, retires: 2}\n",
     'Unknown key "retires" in task "a" of flow "etl" (did you mean "retries"?); expected one of: command, '
     "script, cell, template, params, depends, gpus, retries, time, group, trigger, env, in, out, no_template, "
     "executor, slurm"),
    ("taks:\n  a: {command: x}\n", 'flow.yaml must be a mapping with tasks: (name: {command: ...} for each task)'),
    ("tasks:\n  a: {command: x}\ndescriptoin: y\n",
     'Unknown key "descriptoin" in flow.yaml (did you mean "description"?); expected one of: tasks, preamble, '
     "params, description"),
    ("tasks:\n  a: {command: x, time: soon}\n", 'Task "a" of flow "etl": Invalid --time "soon"'),
    ("tasks:\n  a: {command: x, gpus: '0,2'}\n", 'Task "a" of flow "etl": a flow task takes a GPU count'),
    ("tasks:\n  a: {command: x, depends: '@'}\n",
     '"@" in task "a" of flow "etl" refers to the task just before it, but there is no task before it'),
    ("tasks:\n  a: {command: x}\n  b: {command: x, depends: 'afterok:a,afterok:@'}\n",
     'Invalid dependency "afterok:a:a": "a" appears more than once'),
    ("tasks:\n  a: {command: x}\n  b: {command: x, depends: 'afterok:12'}\n",
     'Task "b" of flow "etl" depends on job 12: tasks of a flow depend on other tasks by name'),
    ("tasks:\n  a: {command: x}\n  b: {command: x, depends: 'afterOK:a'}\n",
     'Task "b" of flow "etl": Unknown dependency type "afterOK" in "afterOK:a" (did you mean "afterok"?)'),
    ("tasks:\n  a: {command: x, in: model}\n",
     'Task "a" of flow "etl": --in and --out carry Python variables; they apply to a Python cell only'),
    ("tasks:\n  a: {command: x, params: {lr: 1}}\n",
     'params of task "a" of flow "etl" need a template: (a command uses {{params.NAME}} from the flow\'s params)'),
    ("tasks:\n  2a: {command: x}\n", 'Invalid task name "2a" in flow "etl"'),
    ("tasks: [\n", "flow.yaml is not valid YAML"),
    ("tasks:\n  a: {command: x, executor: pbs}\n", 'Task "a" of flow "etl": --executor expects local or slurm, got "pbs"'),
    ("tasks:\n  a: {command: x, slurm: {queue: gpu}}\n",
     'Task "a" of flow "etl": Field "slurm": "queue" is not passed to Slurm; the options that are: '),
    ("tasks:\n  a: {command: x, slurm: {mem: 16}}\n",
     'Task "a" of flow "etl": Field "slurm" expects an object of strings'),
])
def test_definition_errors_are_one_line(text, message):
    assert error(from_yaml, "etl", text).startswith(message)


def test_template_parameter_errors_at_definition_time():
    templates = versions(TRAIN_YAML)
    flow = "tasks:\n  train: {template: %s, params: %s}\n"
    assert error(from_yaml, "etl", flow % ("train", "{lr: fast}"), templates=templates) == (
        'Parameter "lr" of template "train" in task "train" must be a float, got "fast"')
    assert error(from_yaml, "etl", flow % ("train", "{lr: [1]}"), templates=templates) == (
        'Parameter "lr" of template "train" in task "train" must be a float, got [1] (list)')
    assert error(from_yaml, "etl", flow % ("train", "{l_r: 1}"), templates=templates) == (
        'Unknown parameter "l_r" of template "train" in task "train" (did you mean "lr"?); it has: lr')
    assert error(from_yaml, "etl", flow % ("trian", "{}"), templates=templates) == (
        'Unknown template "trian" (did you mean "train"?); add it with: gpipe template add trian FILE')
    assert error(from_yaml, "etl", flow % ("train@4", "{}"), templates=templates) == (
        'Template "train" has no version 4 (versions: 1)')
    required = versions("command: python train.py {{params.data}}\nparams:\n  data: {type: str, help: input path}\n")
    assert error(from_yaml, "etl", flow % ("train", "{}"), templates=required) == (
        'Missing parameter "data" (str: input path) of template "train" in task "train": add params: {data: ...}')
    assert error(from_yaml, "etl", flow % ("train@x", "{}")) == (
        'Invalid template reference "train@x": expected NAME or NAME@VERSION (train, train@3)')


def test_templates_are_versioned_values():
    one, two = parse_template("train", TRAIN_YAML), parse_template("train", TRAIN_YAML.replace("0.01", "0.02"))
    mapping = {"train": {1: one, 2: two}}
    assert resolve("train", mapping).version == 2 and resolve("train@1", mapping).version == 1
    assert resolve("train@1", mapping).hash == one.hash != two.hash
    full = parse_template("t", {"script": "#!/bin/bash\necho {{params.n}}\n", "env": {"A": 1}, "gpus": 2,
                                "retries": 3, "time": 90, "params": {"n": 3, "flag": {"type": "bool", "default": False},
                                                                     "xs": {"type": "list", "default": []}}})
    assert (full.env, full.gpus, full.retries, full.time_limit) == ({"A": "1"}, 2, 3, 5400)
    assert full.values({"n": "4", "flag": "yes", "xs": "a,b"}) == {"n": 4, "flag": True, "xs": ["a", "b"]}
    assert full.values({}) == {"n": 3, "flag": False, "xs": []}
    assert error(full.values, {"n": True}) == 'Parameter "n" of template "t" must be an int, got true (bool)'


@pytest.mark.parametrize("data, message", [
    ("params: {}\n", 'template "train" needs exactly one of command: or script:'),
    ("command: x\nparams:\n  lr: {type: flaot}\n",
     'Unknown type "flaot" of parameter "lr" of template "train" (did you mean "float"?)'),
    ("command: x\nparams:\n  lr: {type: float, default: x}\n",
     'Parameter "lr" (the default) of template "train" must be a float, got "x"'),
    ("command: x\nparams:\n  lr: {type: float, default: 1, required: true}\n",
     'Parameter "lr" of template "train" is required and has a default; keep one of the two'),
    ("command: x\nparams:\n  lr: {type: float, hlep: y}\n",
     'Unknown key "hlep" in parameter "lr" of template "train" (did you mean "help"?)'),
    ("command: x\nretires: 1\n", 'Unknown key "retires" in template "train" (did you mean "retries"?)'),
    ("command: x\ncommand: y\n", "Duplicate key \"command\" in template \"train\"'s file (lines 1 and 2)"),
])
def test_template_errors_are_one_line(data, message):
    assert error(parse_template, "train", data).startswith(message)


def test_notebook_errors_name_the_cell():
    assert error(from_notebook, "nb", notebook("%%gbatch --gpus 1\nx = 1")) == (
        "Cell 1 of the notebook has no task name: add --name NAME to its %%gbatch line")
    assert error(from_notebook, "nb", notebook("import os", "%%gbatch --name a --hold\nx = 1")) == (
        'Task "a" of flow "nb": --hold does not apply to a flow task; flow tasks take --name, --gpus, --time, '
        "--retries, --group, --env, --in, --out, --executor, Slurm's own options (--partition, --mem, ...) "
        "and a dependency")
    assert error(from_notebook, "nb", notebook("%%gbatch --name a --bogus\nx")) == (
        'Cell 1 of the notebook: unrecognized option "--bogus"')
    assert error(from_notebook, "nb", notebook("print(1)")).startswith("the notebook has no %%gbatch cells")
    assert error(from_notebook, "nb", notebook("%%gbatch --name a\nx", "%%gbatch --name a\ny")) == (
        'Duplicate task name "a" in flow "nb" (tasks 1 and 2)')
    assert error(from_notebook, "nb", "{not json").startswith("the notebook is not a notebook (.ipynb JSON)")
