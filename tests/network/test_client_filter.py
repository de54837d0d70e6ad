"""ClientFilter on its own: the allow list, the network's own messages, frm rewriting."""

from __future__ import annotations

from net_support import NetAdmin, NetMove, NetSay

from engine.guid import make
from engine.modules.network import ClientConnected, ClientFilter

NETWORK = make(2000, 0, 3)
CONN = make(2000, 1, 1)
AVATAR = make(2000, 9, 4)


class _FakeNetwork:
    guid = NETWORK

    def __init__(self):
        self.controls: dict[int, int] = {}


def bound_filter() -> tuple[ClientFilter, _FakeNetwork]:
    f = ClientFilter(allow=[NetMove, NetSay.type_id])
    net = _FakeNetwork()
    f.bind(net)  # type: ignore[arg-type]
    return f, net


def test_allowed_type_from_an_unbound_connection_passes_unchanged():
    f, _ = bound_filter()
    m = NetMove(0, CONN, 1.0, 2.0)

    assert m is f(m)


def test_frm_becomes_the_controlled_guid_once_bound():
    f, net = bound_filter()
    net.controls[CONN] = AVATAR
    out = f(NetSay(5, CONN, "hi"))

    assert NetSay(5, AVATAR, "hi") == out
    assert NetSay is type(out)


def test_disallowed_type_is_dropped_and_counted():
    f, _ = bound_filter()

    assert None is f(NetAdmin(0, CONN, "give me gold"))
    assert 1 == f.dropped


def test_the_network_modules_own_messages_pass():
    f, _ = bound_filter()
    m = ClientConnected(1, NETWORK, CONN, None, "127.0.0.1:1")

    assert m is f(m)
    assert 0 == f.dropped


def test_a_whole_list_is_filtered_as_each_message_would_be():
    f, net = bound_filter()
    other = make(2000, 1, 2)
    net.controls[CONN] = AVATAR
    messages = [NetSay(5, CONN, "hi"), NetAdmin(0, CONN, "gold"), NetMove(0, other, 1.0, 2.0),
                ClientConnected(1, NETWORK, CONN, None, "127.0.0.1:1"), NetAdmin(0, other, "more")]
    one_by_one = [out for m in messages if (out := f(m)) is not None]

    assert one_by_one == f.filter_many(messages)
    assert [AVATAR, other, NETWORK] == [m.frm for m in one_by_one]
    assert 4 == f.dropped  # two refused each way
