"""Inspector fields read what designers type as the class tree's types; the view maps and snaps."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worldbuilder import View, format_field, parse_field
from worldbuilder._inspect import inspect

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@pytest.mark.parametrize(("default", "text", "expected"), [
    (30, " 45 ", 45),
    (5.0, "2.5", 2.5),
    (5.0, "3", 3.0),
    (True, "no", False),
    (False, "True", True),
    ("pig", "wolf", "wolf"),
    ([12.0, 8.0], "14, 10", [14.0, 10.0]),
    ([12.0, 8.0], "[14.5 10]", [14.5, 10.0]),
    ([], '["ham", "pelt"]', ["ham", "pelt"]),
    ([], "ham, pelt", ["ham", "pelt"]),
    ([], "", []),
    ([], "[[-8, -5, 0, 5], [0, -5, 8, 5]]", [[-8, -5, 0, 5], [0, -5, 8, 5]]),
])
def test_parse_reads_each_type(default, text, expected):
    value, error = parse_field(default, text)
    assert (expected, None) == (value, error)
    assert type(expected) is type(value)


@pytest.mark.parametrize(("default", "text"), [
    (30, "4.5"), (30, "lots"), (5.0, "nan"), (5.0, "inf"), (5.0, ""), (True, "maybe"),
    ([12.0, 8.0], "14"), ([12.0, 8.0], "1, 2, 3"), ([12.0, 8.0], "a, b"), ([], "[unclosed"),
    ([], "[" * 5000 + "]" * 5000), (30, "9" * 5000), ([1.0, 1.0], "1e999, 1"),
])
def test_parse_refuses_with_a_sentence(default, text):
    value, error = parse_field(default, text)
    assert value is None
    assert error.startswith("must be ")


@given(st.one_of(st.integers(), finite, st.booleans(), st.text().filter(lambda s: s == s.strip()),
                 st.lists(finite, min_size=2, max_size=2),
                 st.lists(st.text(alphabet="abcdefghij_", min_size=1), max_size=4)))
def test_format_then_parse_gives_the_value_back(value):
    default = {int: 0, float: 0.0, bool: False, str: ""}.get(type(value), [0.0, 0.0])
    if isinstance(value, list) and (not value or isinstance(value[0], str)):
        default = []
    parsed, error = parse_field(default, format_field(value))
    assert error is None
    assert value == parsed


@given(st.text())
def test_no_text_makes_parse_raise(text):
    for default in (0, 0.0, True, "", [0.0, 0.0], [], ["x"], [[0.0]]):
        parse_field(default, text)


def test_inspector_rows_say_where_each_value_comes_from(doc):
    rows = {r.key: r for r in inspect(doc, ["village.inn"])}
    assert ("16, 10", "override", True) == (rows["size"].text, rows["size"].source, rows["size"].overridden)
    assert ("4", "from building") == (rows["height"].text, rows["height"].source)
    assert ("true", "from entity") == (rows["solid"].text, rows["solid"].source)
    assert "structure < entity" == rows["class"].source
    assert not rows["id"].editable and rows["pos"].editable


def test_inspector_rows_for_several_entities_show_shared_keys_and_mixed_values(doc):
    rows = {r.key: r for r in inspect(doc, ["forest.tree.01", "meadow.rock.1"])}
    assert "2 entities" == rows["selected"].text
    assert "(mixed)" == rows["radius"].text  # 0.6 for trees, 1.2 for rocks
    assert "true" == rows["solid"].text
    assert "size" not in rows


def test_inspector_for_an_unknown_class_shows_its_overrides_read_only(tree):
    from worldbuilder import Document
    doc = Document.from_text('[[entity]]\nid = "d"\nclass = "dragon"\npos = [1.0, 1.0]\nfire = 3\n', tree)
    rows = {r.key: r for r in inspect(doc, ["d"])}
    assert ("unknown class", False) == (rows["class"].source, rows["fire"].editable)


def test_view_round_trips_and_zooms_about_the_mouse():
    view = View((200, 100, 800, 600))
    view.fit((512.0, 512.0))
    sx, sy = view.to_screen(300.0, 120.0)
    assert view.to_world(sx, sy) == pytest.approx((300.0, 120.0))
    before = view.to_world(480, 300)
    view.zoom_at(2.5, 480, 300)
    assert view.to_world(480, 300) == pytest.approx(before)
    view.pan(40, -20)
    assert view.to_world(520, 280) == pytest.approx(before)


def test_fit_shows_the_whole_world_in_the_viewport():
    view = View((0, 0, 800, 400))
    view.fit((512.0, 256.0))
    for corner in ((0.0, 0.0), (512.0, 256.0)):
        assert view.contains(*view.to_screen(*corner))


def test_zoom_is_bounded_and_ignores_nonsense():
    view = View()
    for factor in (1e9, 0.0, -1.0, math.nan, math.inf):
        view.zoom_at(factor, 10, 10)
    assert 0 < view.scale <= 200.0


def test_snapping_to_the_grid_and_off():
    view = View()
    view.grid = 2.0
    assert (302.0, 298.0) == view.snap((301.3, 298.9))
    view.coarser_grid()
    assert (300.0, 300.0) == view.snap((301.3, 298.9))
    view.finer_grid()
    view.finer_grid()
    assert 1.0 == view.grid
    view.snapping = False
    assert (301.3, 298.9) == view.snap((301.3, 298.9))

