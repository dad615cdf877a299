"""Template variables: cube-studio's examples render, anything else is left exactly as written."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_jobflow.core.errors import InvalidSpec
from jupyter_jobflow.core.flowdef import Flow
from jupyter_jobflow.core.flowsources import from_yaml
from jupyter_jobflow.core.templates import parse_template
from jupyter_jobflow.core.templating import render, render_task, run_variables

CREATED = datetime.datetime(2025, 6, 1, 10, 0, 0)
VALUES = run_variables(run_id="etl__manual__20250601T100000__a1b2c3d4", run_type="manual", flow_name="etl",
                       flow_id=7, creator="ann", runner="bob", created=CREATED, run_uuid="0123456789abcdef" * 2)


def test_cube_studio_examples_render():
    text = ('python run.py --tag {{uuid.uuid4().hex[:4]}} --day {{datetime.datetime.now().strftime("%Y%m%d")}} '
            "--date '{{execution_date}}' --by {{creator}}/{{runner}} --pipe {{pipeline_name}}#{{pipeline_id}}")
    out = render(text, VALUES, task="t")
    assert out.warnings == ()
    today = datetime.datetime.now().strftime("%Y%m%d")
    assert re.fullmatch(rf"python run.py --tag [0-9a-f]{{4}} --day {today} --date '2025-06-01 10:00:00' "
                        r"--by ann/bob --pipe etl#7", out.text), out.text


def test_our_variables_and_filters():
    out = render("{{run_id}} {{run_type}} {{flow_name}} {{uuid}} {{datetime}} "
                 "{{ execution_date | strftime('%Y%m%d') }} {{ execution_date | add_days(-1) }} "
                 "{{ execution_date | iso }}", VALUES, task="t")
    assert out.text == ("etl__manual__20250601T100000__a1b2c3d4 manual etl " + "0123456789abcdef" * 2 +
                        " 2025-06-01 10:00:00 20250601 2025-05-31 10:00:00 2025-06-01T10:00:00")


def test_unknown_variables_survive_untouched_with_a_warning():
    out = render("echo {{foo}}\necho {{ run_id }}", VALUES, task="train")
    assert out.text == "echo {{foo}}\necho etl__manual__20250601T100000__a1b2c3d4"
    assert out.warnings == ('Unrecognised template variable "{{foo}}" left as-is in task "train" line 1 (known: '
                            "uuid, datetime, run_id, run_type, task_name, job_id, attempt, params, creator, runner, "
                            "pipeline_id, flow_id, pipeline_name, flow_name, execution_date, data_interval_start, "
                            "data_interval_end)",)


def test_notebook_code_with_braces_is_left_exactly_as_written():
    code = ('d = {"a": {"b": 1}}\nprint(f"{{literal}} {d}")\ns = "{{ x }}".format()\nt = {{1, 2}}\n'
            'html = "{{ {\'k\': 1} }}"\nj = "{{ run_id.__class__ }}"\n')
    out = render(code, VALUES, task="cell")
    assert out.text == code
    assert [int(re.search(r"line ([0-9]+)", w).group(1)) for w in out.warnings] == [2, 3, 4, 5, 6]


def test_attempt_waits_for_its_attempt_and_a_bad_filter_is_an_error():
    first = render("run {{attempt}} of {{run_id}}", VALUES, task="t")
    assert first.text == "run {{attempt}} of etl__manual__20250601T100000__a1b2c3d4" and first.warnings == ()
    assert render(first.text, {"attempt": 2}, task="t").text == "run 2 of etl__manual__20250601T100000__a1b2c3d4"
    with pytest.raises(InvalidSpec) as info:
        render("x\n{{ execution_date | strftme('%Y') }}", VALUES, task="train")
    assert str(info.value) == ('Bad filter in "{{ execution_date | strftme(\'%Y\') }}" (task "train", line 2): '
                               'unknown filter "strftme"')


def test_the_sandbox_keeps_modules_to_their_listed_names():
    for text in ("{{uuid.os.system('true')}}", "{{datetime.sys}}", "{{uuid.__dict__}}",
                 "{{ datetime.datetime.now().__class__.__mro__ }}"):
        out = render(text, VALUES, task="t")
        assert out.text == text and len(out.warnings) == 1


def test_a_task_renders_its_template_with_its_params_and_no_template_keeps_it():
    template = parse_template("train", 'command: "python train.py --lr {{params.lr}} --tag {{uuid.uuid4().hex[:4]}}"\n'
                                       "params:\n  lr: {type: float, default: 0.01, help: learning rate}\n")
    flow = from_yaml("etl", "tasks:\n  prep: {command: 'python prep.py'}\n"
                            "  train: {template: train, params: {lr: 0.1}, depends: prep}\n"
                            "  report: {command: 'python report.py {{run_id}} {{task_name}}', no_template: true}\n")
    train = render_task(flow.task("train"), VALUES, template=template)
    assert re.fullmatch(r"python train.py --lr 0.1 --tag [0-9a-f]{4}", train.text)
    assert render_task(flow.task("report"), VALUES).text == "python report.py {{run_id}} {{task_name}}"
    default = Flow("f").task("t", template="train").build()
    assert render_task(default.task("t"), VALUES, template=template).text.startswith("python train.py --lr 0.01 ")


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_double_braces_renders_to_itself(text):
    assert render(text, VALUES, task="t") == render(text, {}, task="t")
    assert render(text, VALUES, task="t").text == text
