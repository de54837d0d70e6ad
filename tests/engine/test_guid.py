import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import guid as G

nodes = st.integers(0, G.MAX_NODE)
spaces = st.integers(0, G.MAX_SPACE)
objects = st.integers(0, G.MAX_OBJECT)


@given(nodes, spaces, objects)
def test_parts_round_trip(node, space, obj):
    g = G.make(node, space, obj)
    assert (node, space, obj) == (G.node_of(g), G.space_of(g), G.object_of(g))
    assert 0 <= g <= G.MAX_GUID
    assert g == G.parse_guid(G.format_guid(g))


def test_boundaries_pack_into_the_documented_bits():
    g = G.make(65535, 2**28 - 1, 2**20 - 1)
    assert g == 2**64 - 1
    assert G.make(1, 0, 0) == 1 << 48
    assert G.make(0, 1, 0) == 1 << 20
    assert G.make(0, 0, 1) == 1
    assert G.format_guid(G.make(5, 1234, 17)) == "5:1234:17"


@pytest.mark.parametrize("parts", [(65536, 0, 0), (0, 2**28, 0), (0, 0, 2**20), (-1, 0, 0), (0, -1, 0),
                                   (0, 0, -1)])
def test_out_of_range_parts_raise(parts):
    with pytest.raises(ValueError):
        G.make(*parts)


@pytest.mark.parametrize("text", ["", "1:2", "1:2:3:4", "a:b:c", "65536:0:0", "1:-2:3", "1 : 2 : x"])
def test_bad_readable_forms_raise(text):
    with pytest.raises(ValueError):
        G.parse_guid(text)


def test_space_guid_zeroes_the_object_part():
    assert G.space_guid(G.make(3, 9, 77)) == G.make(3, 9, 0)


def test_guid_server_hands_out_distinct_ids_and_frees_them():
    server = G.GuidServer(node=9, max_space=3, max_object=2)
    a, b = server.allocate_space(), server.allocate_space()
    assert (a, b) == (1, 2)
    o1, o2 = server.allocate_object(a), server.allocate_object(a)
    assert G.node_of(o1) == 9 and G.space_of(o1) == a
    assert o1 != o2
    with pytest.raises(G.GuidExhaustedError):
        server.allocate_object(a)
    server.free_object(o1)
    assert server.allocate_object(a) == o1  # reused only once freed
    with pytest.raises(KeyError):
        server.free_object(G.make(9, b, 1))  # never handed out


def test_guid_server_never_reuses_a_live_id_before_the_counter_runs_out():
    server = G.GuidServer(node=1, max_object=100)
    space = server.allocate_space()
    first = server.allocate_object(space)
    server.free_object(first)
    seen = {server.allocate_object(space) for _ in range(99)}
    assert first not in seen  # the counter goes on rather than reusing at once
    assert server.allocate_object(space) == first  # only after the range is used up


def test_space_exhaustion_is_an_error_not_a_wrap_around():
    server = G.GuidServer(node=1, max_space=2)
    server.allocate_space(), server.allocate_space()
    with pytest.raises(G.GuidExhaustedError):
        server.allocate_space()


def test_freeing_a_space_frees_its_objects_and_foreign_guids_are_refused():
    server = G.GuidServer(node=4)
    space = server.allocate_space()
    server.allocate_object(space)
    server.free_space(space)
    with pytest.raises(KeyError):
        server.allocate_object(space)
    with pytest.raises(ValueError):
        server.free_object(G.make(5, 1, 1))


def test_node_kinds_cover_every_node_id_once():
    assert G.kind_of_node(1) is G.NodeKind.GLD
    assert G.kind_of_node(100) is G.NodeKind.LOGIN
    assert G.kind_of_node(2000) is G.NodeKind.GAMELOGIC
    assert G.kind_of_node(65535) is G.NodeKind.CLIENT
    with pytest.raises(ValueError):
        G.kind_of_node(0)
    covered = sorted((k.first, k.last) for k in G.NodeKind)
    assert covered[0][0] == 1 and covered[-1][1] == G.MAX_NODE
    for (_, last), (first, _) in zip(covered, covered[1:], strict=False):
        assert first == last + 1


def test_well_known_guids_live_in_space_zero():
    g = G.module_guid(12, G.WellKnown.TRANSPORT)
    assert G.space_of(g) == 0 and G.node_of(g) == 12 and G.object_of(g) == G.WellKnown.TRANSPORT
