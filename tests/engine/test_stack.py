import textwrap

import pytest
from sample_messages import TTalk

from engine.pipes import DelayAll
from engine.stack import StackError, build_engine, load_stack, parse_stack
from engine.testing import FakeClock, Probe

GOOD = textwrap.dedent("""
    [engine]
    tick_rate = 30
    seed = 4

    [[module]]
    name = "front"
    kind = "probe"

    [[module]]
    name = "logic"
    kind = "objectspace_host"
    [module.settings]
    regions = 2

    [[pipe]]
    from = "front"
    to = "logic"
    bound = 50
    filters = [{ kind = "delay", ticks = 2 }]

    [[pipe]]
    from = "logic"
    to = "front"

    [transport]
    module = "front"

    [node]
    role = "test"
""")


def _kinds():
    from engine.stack import default_module_kinds
    return {**default_module_kinds(), "probe": Probe}


def test_a_good_stack_builds_the_engine_it_describes(tmp_path):
    path = tmp_path / "good.toml"
    path.write_text(GOOD)
    spec = load_stack(path, module_kinds=_kinds())
    engine = build_engine(spec, node_id=2000, module_kinds=_kinds(), clock=FakeClock())
    assert ["front", "logic"] == [m.name for m in engine.modules]
    assert (30.0, 4) == (engine.tick_rate, engine.seed)
    assert {"regions": 2} == engine.module("logic").settings
    pipe = engine.pipe("front", "logic")
    assert 50 == pipe.bound and isinstance(pipe._filters[0], DelayAll)
    assert engine._transport is engine.module("front")
    assert {"node": {"role": "test"}} == spec.extra


def test_the_delay_filter_from_the_stack_delays():
    spec = parse_stack(GOOD, module_kinds=_kinds())
    engine = build_engine(spec, node_id=2000, module_kinds=_kinds(), clock=FakeClock())
    engine.start()
    front, logic = engine.module("front"), engine.module("logic")
    front.send(TTalk(logic.guid, front.guid, "late"))
    pipe = engine.pipe("front", "logic")
    engine.tick_once()
    engine.tick_once()
    assert 1 == len(pipe)
    engine.tick_once()
    assert 0 == len(pipe)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('kind = "probe"', 'kind = "prbe"'), r"good\.toml:8: module\[0\]\.kind: unknown module kind 'prbe'"),
        (('to = "logic"\nbound', 'to = "logik"\nbound'), r":18: pipe\[0\]\.to: names no module.*'logik'"),
        (("tick_rate = 30", "tick_rate = -1"), r":3: engine\.tick_rate: must be a number"),
        (("bound = 50", "bound = 0"), r":19: pipe\[0\]\.bound: must be a positive integer"),
        (('kind = "delay", ticks = 2', 'kind = "delay", ticks = 0'),
         r":20: pipe\[0\]\.filters\[0\]: bad arguments"),
        (('kind = "delay"', 'kind = "blur"'), r"pipe\[0\]\.filters\[0\]\.kind: unknown filter kind 'blur'"),
        (('name = "logic"', 'name = "front"'), r":11: module\[1\]\.name: module name 'front' is used twice"),
        (("seed = 4", "seed = 4\ncolour = 1"), r":5: engine\.colour: unknown key"),
        (('module = "front"', 'module = "nobody"'), r"transport\.module: names no module"),
        (("tick_rate = 30", "tick_rate = = 30"), r"good\.toml: not valid TOML: .*line 3"),
    ],
)
def test_bad_stack_files_name_the_file_line_and_key(tmp_path, change, expected):
    old, new = change
    assert old in GOOD
    path = tmp_path / "good.toml"
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(StackError, match=expected):
        load_stack(path, module_kinds=_kinds())


def test_a_missing_file_is_a_stack_error(tmp_path):
    with pytest.raises(StackError, match="cannot read"):
        load_stack(tmp_path / "nope.toml")


def test_a_stack_needs_modules():
    with pytest.raises(StackError, match="at least one"):
        parse_stack("[engine]\ntick_rate = 20\n")
