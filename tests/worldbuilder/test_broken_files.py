"""A hand-broken world file opens with what can be read, every problem listed with its line, untouched."""

from worldbuilder import open_document

BROKEN = """\
[world]
name = "Broken"
size = [200.0, 200.0]
seed = 1

[terrain]
cell_size = 8.0

[[entity]]
id = "good.rock"
class = "rock"
pos = [50.0, 50.0]

[[entity]]
id = "no.closing.quote
class = "rock"
pos = [60.0, 60.0]

[[entity]]
id = "dragon"
class = "dragon"
pos = [70.0, 70.0]

[[entity]]
id = "far.pig"
class = "pig"
pos = [900.0, 10.0]

[[entity]]
id = "angry.pig"
class = "pig"
pos = [20.0, 20.0]
health = "very"

[[entity]]
id = "lonely.door"
class = "door"
pos = [120.0, 120.0]

[[entity]]
id = "other.rock"
class = "rock"
pos = [50.5, 50.0]

[[entity]]
class = "tree"
pos = [10.0, 10.0]
"""


def _line(text, needle):
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_every_problem_is_listed_with_its_line(tmp_path, tree):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    doc = open_document(path, tree)
    # the bad line itself for a block that is not TOML; an entity's [[entity]] header otherwise
    expected = [
        (_line(BROKEN, "no.closing.quote"), "not valid TOML"),
        (_line(BROKEN, '"dragon"') - 1, "unknown class 'dragon'"),
        (_line(BROKEN, '"far.pig"') - 1, "outside the world"),
        (_line(BROKEN, '"angry.pig"') - 1, "health must be a whole number"),
        (_line(BROKEN, '"lonely.door"') - 1, "not in a wall"),
        (_line(BROKEN, '"other.rock"') - 1, "other.rock overlaps good.rock"),
        (_line(BROKEN, 'class = "tree"') - 1, "needs an id"),
    ]
    problems = doc.problems()
    assert len(expected) == len(problems)
    for line, fragment in expected:
        assert any(p.line == line and fragment in p.message for p in problems), (line, fragment, problems)


def test_what_can_be_read_is_there_to_edit(tmp_path, tree):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    doc = open_document(path, tree)
    assert {"good.rock", "dragon", "far.pig", "angry.pig", "lonely.door", "other.rock"} == {
        e.id for e in doc.world.entities}
    doc.select(["other.rock"])
    doc.move_selection(10.0, 0.0)
    assert not any("overlaps" in p.message for p in doc.problems())


def test_the_file_is_not_touched_and_saving_over_it_asks_first(tmp_path, tree):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    doc = open_document(path, tree)
    doc.place("pig", (30.0, 30.0))
    doc.select_all()
    doc.delete_selection()
    assert BROKEN == path.read_text()
    warnings = doc.save_warnings(path)
    assert any("blocks that could not be read will be dropped" in w for w in warnings)
    assert not any("dropped" in w for w in doc.save_warnings(tmp_path / "elsewhere.toml"))


def test_a_file_that_is_not_toml_at_all_opens_empty_with_its_problem(tmp_path, tree):
    path = tmp_path / "garbage.toml"
    path.write_bytes(b"\x00\xff[[[ this is not a world\n= = =\n")
    doc = open_document(path, tree)
    assert [] == doc.world.entities
    assert doc.problems() and all(p.line >= 1 for p in doc.problems())
    doc.place("pig", (10.0, 10.0))  # still a working editor
    assert doc.entity("pig") is not None
