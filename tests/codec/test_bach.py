"""The Bach text codec: the seed documents' examples, messages, errors, round trips, fuzzing."""

from __future__ import annotations

import contextlib
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.codec.bach import BachError, dumps, dumps_value, loads, loads_value
from engine.guid import MAX_GUID, Guid, make
from engine.messages import Message, MessageRegistry

# Throwaway message classes live in their own registry, so no other test
# module's ids or Bach names can collide with them.
REG = MessageRegistry()


class BachMove(Message, type_id=901, registry=REG):
    pos: list[float]
    speed: float = 1.5


class BachSay(Message, type_id=902, registry=REG):
    text: str
    blob: bytes
    loud: bool
    amount: int
    target: Guid | None = None


class BachPerception(Message, registry=REG):
    seen_at: int


class BachSight(BachPerception, type_id=903):
    what: Message
    moves: list[BachMove]


class BachBag(Message, type_id=904, registry=REG):
    data: Any
    table: dict
    ids: list[Guid]
    maybe: BachMove | None = None


P = make(5, 12, 17)
ME = make(5, 12, 3)

# -- the seed documents, verbatim ------------------------------------------------

# 001 (WorldForge, Atlas paper): one example per line.
SEED_001_VALUES = (
    '42 An integer 32.85 A float "foo" A string [69, 24.8, "bar"] A list '
    '{name: "foo", height: 5.4} A map'
)
SEED_001_OBJECT = '{ objtype: "obj", parents: {"pig"}, id: "pig_42", loc: "world_0", pos: [0.5, 3.4, 9.7] }'
SEED_001_MOVE = (
    '{ objtype: "op", parents: ["move"], serialno: 12345, refno: 0, args: [{objtype: "obj", '
    'id: "pig_42", parents: ["pig"], loc: "world_0", pos: [0.5, 3.4, 9.7], velocity: [0.0, 1.0, 0.0] } ] }'
)
SEED_001_SIGHT = (
    '{objtype: "op", parents: ["sight"], serialno: 12346, refno: 12345, args: [{objtype: "op", '
    'parents: ["move"], serialno: 12345, refno: 0, args: [{objtype: "obj", id: "pig_42", '
    'parents: ["pig"], loc: "world_0", pos: [0.5, 3.4, 9.7], velocity: [0.0, 1.0, 0.0] } ] } ] }'
)

# 003 (the same paper, laid out): a table, then multi-line examples whose
# brace-only lines were lost when the PDF became text.
SEED_003_TABLE = """\
 42                          An integer
 32.85                       A float
 "foo"                       A string
 [69, 24.8, "bar"]           A list
 {name: "foo", height: 5.4}  A map
"""
SEED_003_OBJECT = """\
 objtype: "obj",
 parents: {"pig"},
 id: "pig_42",
 loc: "world_0",
 pos: [0.5, 3.4, 9.7]
"""
SEED_003_MOVE = """\
 objtype: "op",
 parents: ["move"],
 serialno: 12345,
 refno: 0,
 args: [{objtype: "obj",
         id: "pig_42",
         parents: ["pig"],
         loc: "world_0",
         pos: [0.5, 3.4, 9.7],
         velocity: [0.0, 1.0, 0.0]
"""
SEED_003_SIGHT = """\
{objtype: "op",
 parents: ["sight"],
 serialno: 12346,
 refno: 12345,
 args: [{objtype: "op",
         parents: ["move"],
         serialno: 12345,
         refno: 0,
         args: [{objtype: "obj",
                 id: "pig_42",
                 parents: ["pig"],
                 loc: "world_0",
                 pos: [0.5, 3.4, 9.7],
                 velocity: [0.0, 1.0, 0.0]
"""

PIG = {"objtype": "obj", "id": "pig_42", "parents": ["pig"], "loc": "world_0",
       "pos": [0.5, 3.4, 9.7], "velocity": [0.0, 1.0, 0.0]}
MOVE = {"objtype": "op", "parents": ["move"], "serialno": 12345, "refno": 0, "args": [PIG]}
SIGHT = {"objtype": "op", "parents": ["sight"], "serialno": 12346, "refno": 12345, "args": [MOVE]}
TABLE = [42, 32.85, "foo", [69, 24.8, "bar"], {"name": "foo", "height": 5.4}]


def test_seed_001_table_values_parse_one_by_one():
    # The 001 table reads "<value> <description> <value> <description> ...".
    pieces = re.split(r" An? (?:integer|float|string|list|map) ?", SEED_001_VALUES)
    assert [loads_value(p) for p in pieces if p] == TABLE


def test_seed_001_object_with_brace_parents():
    assert loads_value(SEED_001_OBJECT) == {
        "objtype": "obj", "parents": ["pig"], "id": "pig_42", "loc": "world_0", "pos": [0.5, 3.4, 9.7]}


def test_seed_001_operations():
    assert loads_value(SEED_001_MOVE) == MOVE
    assert loads_value(SEED_001_SIGHT) == SIGHT


def test_seed_003_table_first_column():
    values = [re.split(r"\s{2,}", line.strip())[0] for line in SEED_003_TABLE.splitlines()]
    assert [loads_value(v) for v in values] == TABLE


def test_seed_003_fragments_are_truncated_and_say_where():
    with pytest.raises(BachError) as info:
        loads_value(SEED_003_SIGHT)
    assert (info.value.line, info.value.column) == (15, 1)  # end of input, after the last line
    with pytest.raises(BachError):
        loads_value(SEED_003_MOVE)


def test_seed_003_examples_with_their_lost_brace_lines_restored():
    obj = loads_value("{\n" + SEED_003_OBJECT + "}\n")
    assert obj == loads_value(SEED_001_OBJECT)
    assert loads_value("{\n" + SEED_003_MOVE + "        }\n ]\n}\n") == MOVE
    assert loads_value(SEED_003_SIGHT + "                }\n         ]\n        }\n ]\n}\n") == SIGHT


# -- plain values ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0), ("-17", -17), ("+3", 3), ("123456789012345678901234567890", 123456789012345678901234567890),
        ("1.5", 1.5), ("-0.25", -0.25), ("1.", 1.0), (".5", 0.5), ("1e3", 1000.0), ("2.5E-2", 0.025),
        ("inf", math.inf), ("-inf", -math.inf), ("+inf", math.inf),
        ("true", True), ("false", False), ("null", None),
        ('""', ""), ('"a\\"b\\\\c\\/d"', 'a"b\\c/d'), ('"\\n\\r\\t\\b\\f"', "\n\r\t\b\f"),
        ('"\\x41\\u00e9\\U0001F437"', "A\u00e9\U0001f437"),
        ('"h\u00e9llo \U0001f437"', "h\u00e9llo \U0001f437"),
        ('"tab\tinside"', "tab\tinside"),
        ('b""', b""), ('b"ab\\x00\\xff\\"\\\\\\n"', b'ab\x00\xff"\\\n'),
        ("[]", []), ("{}", {}), ("[1, [2, [3]]]", [1, [2, [3]]]), ("[1, 2,]", [1, 2]),
        ('{"pig"}', ["pig"]), ('{"pig", "cow",}', ["pig", "cow"]), ("{1, 2}", [1, 2]), ("{true}", [True]),
        ('{"quoted key": 1, plain_key2: 2, 7: 3, -1: 4}', {"quoted key": 1, "plain_key2": 2, 7: 3, -1: 4}),
        ("{true: 1, null: 2}", {"true": 1, "null": 2}),
        ("  \n[ 1 ,\n 2 ]  \n", [1, 2]),
        ("# heading\n{a: 1, # the a\n b: [2, # two\n 3]} # end", {"a": 1, "b": [2, 3]}),
        ('"# not a comment"', "# not a comment"),
    ],
)
def test_loads_value(text, expected):
    assert expected == loads_value(text)
    assert type(expected) is type(loads_value(text))


def test_nan_parses_and_prints():
    assert math.isnan(loads_value("nan"))
    assert dumps_value(math.nan) == "nan"
    assert math.isnan(loads_value(dumps_value([math.nan]))[0])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1.0"), (1e16, "1e+16"), (-math.inf, "-inf"), (5, "5"), (True, "true"), (None, "null"),
        ("x\"y\\z\n\x01\x7f\u2028\ud800", '"x\\"y\\\\z\\n\\x01\\x7f\\u2028\\ud800"'),
        (b"a\x00\"", 'b"a\\x00\\""'), ((1, 2), "[1, 2]"),
        ({"name": "foo", "height": 5.4, "two words": 1, 3: 4},
         '{name: "foo", height: 5.4, "two words": 1, 3: 4}'),
    ],
)
def test_dumps_value(value, expected):
    assert expected == dumps_value(value)


@pytest.mark.parametrize("value", [{1.5: 2}, {True: 1}, {None: 1}, {1, 2}, object()])
def test_dumps_value_refuses_what_bach_cannot_say(value):
    with pytest.raises(TypeError):
        dumps_value(value)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("", 1, 1, "end of input"),
        ("[1, 2", 1, 6, "expected ','"),
        ("[1 2]", 1, 4, "expected ','"),
        ('{a: 1,\n  a: 2}', 2, 3, "duplicate key 'a'"),
        ("{a 1}", 1, 2, "unknown word 'a'"),
        ("{a: 1, b}", 1, 8, "unknown word 'b'"),
        ("[pig]", 1, 2, "unknown word 'pig'"),
        ('{[1]: 2}', 1, 2, "map key"),
        ('"abc', 1, 1, "unterminated string"),
        ('"a\nb"', 1, 3, "raw control character"),
        ('"\\q"', 1, 2, "unknown escape"),
        ('"\\u12"', 1, 2, "4 hex digits"),
        ('"\\UFFFFFFFF"', 1, 2, "beyond Unicode"),
        ('b"\u00e9"', 1, 3, "only printable ASCII"),
        ('b"\\u0041"', 1, 3, "unknown escape"),
        ("12abc", 1, 1, "malformed number"),
        ("1.2.3", 1, 1, "malformed number"),
        ("1 2", 1, 3, "after the value"),
        ("\n\n   ]", 3, 4, "expected a value"),
        ("-infinity", 1, 1, "expected a number"),
        ("[" * 150, 1, 101, "nested more than 100"),
        ("9" * 5000, 1, 1, "too long"),
    ],
)
def test_errors_name_line_and_column(text, line, column, fragment):
    with pytest.raises(BachError) as info:
        loads_value(text)
    assert (line, column) == (info.value.line, info.value.column)
    assert fragment in info.value.msg
    assert str(info.value).startswith(f"line {line}, column {column}: ")


def test_non_str_input_is_a_bach_error():
    with pytest.raises(BachError):
        loads_value(b"[1]")  # type: ignore[arg-type]


# -- messages --------------------------------------------------------------------


def test_dumps_message_prints_an_atlas_operation():
    text = dumps(BachMove(P, ME, [0.5, 3.4, 9.7]))
    assert text == '{objtype: "op", parents: ["bach_move"], to: "5:12:17", frm: "5:12:3", ' \
           'pos: [0.5, 3.4, 9.7], speed: 1.5}'


def test_dumps_nested_messages_and_guid_lists():
    inner = BachMove(P, ME, [1.0])
    text = dumps(BachSight(ME, P, 7, inner, [inner]))
    assert text == (
        '{objtype: "op", parents: ["bach_sight"], to: "5:12:3", frm: "5:12:17", seen_at: 7, '
        f"what: {dumps(inner)}, moves: [{dumps(inner)}]}}"
    )
    assert 'ids: ["5:12:17", "5:12:3"]' in dumps(BachBag(P, ME, None, {}, [P, ME]))


def test_loads_takes_fields_in_any_order_with_defaults_and_comments():
    text = """
    # a hand-written move
    {pos: [1, 2, 3.5],        # ints are fine where floats belong
     parents: {"bach_move"},  # brace form, as in the seed
     frm: 5,
     objtype: "op",
     to: "5:12:17"}
    """
    m = loads(text, registry=REG)
    assert BachMove(P, 5, [1.0, 2.0, 3.5], 1.5) == m
    assert [float, float, float] == [type(x) for x in m.pos]


def test_loads_nested_and_optional():
    inner = BachMove(P, ME, [1.0], 2.0)
    sight = BachSight(ME, P, 7, BachSay(P, P, "hi", b"\x00", True, -3), [inner, inner])
    assert sight == loads(dumps(sight), registry=REG)
    bag = BachBag(P, ME, {"any": [1, {"x": b"y"}]}, {1: "one", "two": 2.0}, [], inner)
    assert bag == loads(dumps(bag), registry=REG)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[1]", "must be a map"),
        ('{parents: ["bach_move"], to: 1, frm: 2, pos: []}', "missing objtype"),
        ('{objtype: "obj", parents: ["bach_move"], to: 1, frm: 2, pos: []}', 'objtype must be "op"'),
        ('{objtype: "op", to: 1, frm: 2, pos: []}', "missing parents"),
        ('{objtype: "op", parents: ["bach_move", "message"], to: 1, frm: 2, pos: []}', "list of one name"),
        ('{objtype: "op", parents: "bach_move", to: 1, frm: 2, pos: []}', "list of one name"),
        ('{objtype: "op", parents: ["pig"], to: 1, frm: 2, pos: []}', "unknown operation 'pig'"),
        ('{objtype: "op", parents: ["bach_perception"], to: 1, frm: 2, seen_at: 1}', "unknown operation"),
        ('{objtype: "op", parents: ["bach_move"], to: 1, frm: 2}', "bach_move: missing field 'pos'"),
        ('{objtype: "op", parents: ["bach_move"], to: 1, frm: 2, pos: [], wings: 2}',
         "unknown field 'wings'"),
        ('{objtype: "op", parents: ["bach_move"], to: 1, frm: 2, pos: [1, "x"]}',
         "bach_move.pos[1]: wants float"),
        ('{objtype: "op", parents: ["bach_move"], to: 1, frm: 2, pos: null}', "wants list[float], got null"),
        ('{objtype: "op", parents: ["bach_move"], to: "5:12", frm: 2, pos: []}', "not a Guid"),
        ('{objtype: "op", parents: ["bach_move"], to: -1, frm: 2, pos: []}', "wants a Guid"),
        (f'{{objtype: "op", parents: ["bach_move"], to: {MAX_GUID + 1}, frm: 2, pos: []}}', "wants a Guid"),
        ('{objtype: "op", parents: ["bach_move"], to: 1, frm: 2, pos: [], speed: 1e400}', None),
        ('{objtype: "op", parents: ["bach_say"], to: 1, frm: 2, text: "a", blob: "b", loud: true, amount: 1}',
         "bach_say.blob: wants bytes, got a string"),
        ('{objtype: "op", parents: ["bach_say"], to: 1, frm: 2, text: "a", blob: b"", loud: 1, amount: 1}',
         "wants bool, got an int"),
        ('{objtype: "op", parents: ["bach_say"], to: 1, frm: 2, text: "a", blob: b"", loud: true, '
         'amount: 1.0}',
         "wants int, got a float"),
        ('{objtype: "op", parents: ["bach_bag"], to: 1, frm: 2, data: 1, table: [], ids: []}', "wants dict"),
        ('{objtype: "op", parents: ["bach_bag"], to: 1, frm: 2, data: 1, table: {}, ids: [], '
         'maybe: {objtype: "op", parents: ["bach_say"], to: 1, frm: 2, text: "a", blob: b"", loud: true, '
         'amount: 1}}', "bach_bag.maybe: wants a bach_move, got 'bach_say'"),
        ('{objtype: "op", parents: ["bach_move"], to: 1, frm: 2, pos: [], speed: 10' + "0" * 400 + "}",
         "too large for a float"),
    ],
)
def test_loads_refuses_bad_operations(text, fragment):
    if fragment is None:  # 1e400 is a valid float (inf): no error
        assert math.isinf(loads(text, registry=REG).speed)
        return
    with pytest.raises(BachError) as info:
        loads(text, registry=REG)
    assert fragment in str(info.value)


def test_loads_error_points_at_the_bad_value():
    text = '{objtype: "op",\n parents: ["bach_move"],\n to: 1, frm: 2,\n pos: [1.0, "x"]}'
    with pytest.raises(BachError) as info:
        loads(text, registry=REG)
    assert (info.value.line, info.value.column) == (4, 13)


def test_loads_uses_the_given_registry():
    text = dumps(BachMove(P, ME, [1.0]))
    with pytest.raises(BachError, match="unknown operation 'bach_move'"):
        loads(text, registry=MessageRegistry())


def test_dumps_wants_a_message():
    with pytest.raises(TypeError):
        dumps((1, 2, 3))  # type: ignore[arg-type]


# -- properties ------------------------------------------------------------------

finite = st.floats(allow_nan=False)
guids = st.integers(0, MAX_GUID)
keys = st.one_of(st.text(max_size=8), st.integers(-(2**70), 2**70))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**100), 2**100), finite,
    st.text(st.characters(codec=None), max_size=20), st.binary(max_size=20),
)
plain_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


@given(plain_values)
def test_plain_values_round_trip(value):
    assert value == loads_value(dumps_value(value))


@given(st.text(st.characters(), max_size=30))
def test_any_string_round_trips_on_one_line(s):
    text = dumps_value(s)
    assert "\n" not in text
    assert s == loads_value(text)


moves = st.builds(BachMove, guids, guids, st.lists(finite, max_size=4), finite)
says = st.builds(BachSay, guids, guids, st.text(max_size=10), st.binary(max_size=10), st.booleans(),
                 st.integers(-(2**63), 2**64 - 1), st.none() | guids)
bags = st.builds(BachBag, guids, guids, plain_values, st.dictionaries(keys, plain_values, max_size=3),
                 st.lists(guids, max_size=3), st.none() | moves)
flat_messages = st.one_of(moves, says, bags)
messages = st.one_of(
    flat_messages,
    st.builds(BachSight, guids, guids, st.integers(), flat_messages, st.lists(moves, max_size=3)),
)


@given(messages)
def test_messages_round_trip(m):
    assert m == loads(dumps(m), registry=REG)


# -- fuzzing: only BachError, whatever the text ------------------------------------

_TOKENS = list('{}[]:,"\\#\n -+.eE0123456789abfnrtuxU_') + ["true", "null", 'b"', "inf"]
bachish = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)


def _only_bach_error(text: str) -> None:
    for parse in (loads_value, lambda t: loads(t, registry=REG)):
        with contextlib.suppress(BachError):
            parse(text)


@given(st.one_of(st.text(max_size=80), bachish))
def test_arbitrary_text_raises_only_bach_error(text):
    _only_bach_error(text)


@settings(max_examples=300)
@given(messages, st.data())
def test_mutated_operations_raise_only_bach_error(m, data):
    text = dumps(m)
    cuts = data.draw(st.lists(st.integers(0, len(text)), min_size=1, max_size=3))
    for cut in cuts:
        choice = data.draw(st.sampled_from(["drop", "insert", "truncate"]))
        if choice == "drop":
            text = text[:cut] + text[cut + 1:]
        elif choice == "insert":
            text = text[:cut] + data.draw(st.sampled_from(list('{}[]:,"\\# 0x'))) + text[cut:]
        else:
            text = text[:cut]
    _only_bach_error(text)
