"""Two engines in this process joined by real ZeroMQ sockets on loopback."""

import time

from sample_messages import TTalk

from engine.control import DeliveryFailed, Directory, PeerDown, PeerUp, Ping, Pong, WatchPeers
from engine.engine import Engine
from engine.guid import WellKnown, make, module_guid
from engine.modules.transport import TransportModule
from engine.testing import FakeClock, Probe
from nodes.runner import free_tcp_port


def _node(node_id, clock, peers=None, **settings):
    engine = Engine(node_id, clock=clock)
    transport = engine.add_module(TransportModule("transport", {
        "listen": f"tcp://127.0.0.1:{free_tcp_port()}", "peers": peers or {}, **settings}))
    probe = engine.add_module(Probe("probe"))
    engine.connect("transport", "probe")
    engine.connect("probe", "transport")
    engine.set_transport("transport")
    engine.start()
    return engine, transport, probe


def _pump(engines, until, timeout=5.0, clock_step=0.0, clocks=()):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for e in engines:
            e.tick_once()
        for c in clocks:
            c.advance(clock_step)
        if until():
            return True
        time.sleep(0.002)
    return until()


def _pair(**settings):
    ca, cb = FakeClock(), FakeClock()
    a = _node(10, ca, **settings)
    b = _node(20, cb, peers={10: a[1].address}, **settings)
    a[1].receive([Directory(a[1].guid, a[1].guid, [[20, "test", b[1].address, True, {}]], True)])
    return (ca, *a), (cb, *b)


def test_messages_cross_in_one_batch_per_peer_per_tick():
    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    try:
        assert _pump([ea, eb], lambda: ta.peers()[20]["received"] > 0)  # connected both ways
        frames_before, ticks_before = ta.frames_out, ea.tick
        for i in range(100):
            pa.send(TTalk(module_guid(20, WellKnown.FIRST_FREE), pa.guid, f"m{i}"))
        ea.tick_once()
        assert frames_before + 1 == ta.frames_out  # the whole tick's traffic in one batch
        assert ticks_before + 1 == ea.tick
        assert _pump([eb], lambda: len([m for m in pb.received if type(m) is TTalk]) == 100)
        assert [f"m{i}" for i in range(100)] == [m.text for m in pb.received if type(m) is TTalk]
    finally:
        ea.stop(), eb.stop()


def test_ping_is_answered_by_the_peer_transport():
    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    try:
        pa.send(Ping(module_guid(20, WellKnown.TRANSPORT), pa.guid, 7, "hello"))
        assert _pump([ea, eb], lambda: any(type(m) is Pong for m in pa.received))
        pong = next(m for m in pa.received if type(m) is Pong)
        assert (7, "hello") == (pong.serial, pong.data)
    finally:
        ea.stop(), eb.stop()


def test_a_silent_peer_is_declared_dead_and_messages_to_it_fail_back():
    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    try:
        pa.send(WatchPeers(ta.guid, pa.guid))
        assert _pump([ea, eb], lambda: ta.peers()[20]["received"] > 0, clock_step=0.1, clocks=[ca, cb])
        eb.stop()  # node 20 goes silent
        assert _pump([ea], lambda: any(type(m) is PeerDown for m in pa.received),
                     clock_step=0.1, clocks=[ca])
        down = next(m for m in pa.received if type(m) is PeerDown)
        assert 20 == down.node and "silent" in down.reason
        assert ca.now() < 10
        pa.send(TTalk(make(20, 3, 4), pa.guid, "anyone?"))
        assert _pump([ea], lambda: any(type(m) is DeliveryFailed for m in pa.received))
        failed = next(m for m in pa.received if type(m) is DeliveryFailed)
        assert make(20, 3, 4) == failed.original_to and "dead" in failed.reason
    finally:
        ea.stop()


def test_a_peer_heard_again_is_announced_up():
    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    try:
        pa.send(WatchPeers(ta.guid, pa.guid))
        assert _pump([ea, eb], lambda: ta.peers()[20]["received"] > 0)
        assert _pump([ea], lambda: any(type(m) is PeerDown for m in pa.received),
                     clock_step=0.2, clocks=[ca])
        assert _pump([ea, eb], lambda: any(type(m) is PeerUp for m in pa.received),
                     clock_step=0.1, clocks=[ca, cb])
    finally:
        ea.stop(), eb.stop()


def test_unknown_node_fails_back_to_the_sender():
    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    try:
        pa.send(TTalk(make(999, 1, 1), pa.guid, "to nowhere"))
        assert _pump([ea], lambda: any(type(m) is DeliveryFailed for m in pa.received),
                     clock_step=0.1, clocks=[ca])  # held while the directory may still name it
        assert ca.now() > ta.dead_after
        assert "not in the directory" in next(m for m in pa.received if type(m) is DeliveryFailed).reason
    finally:
        ea.stop(), eb.stop()


def test_garbage_on_the_transport_port_is_dropped_and_the_node_goes_on():
    import zmq

    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    ctx = zmq.Context.instance()
    rogue = ctx.socket(zmq.DEALER)
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.connect(ta.address)
    try:
        rogue.send(b"\xc1 definitely not msgpack")
        assert _pump([ea], lambda: ta.bad_frames == 1)
        pb.send(TTalk(module_guid(10, WellKnown.FIRST_FREE), pb.guid, "still fine"))
        assert _pump([ea, eb], lambda: any(getattr(m, "text", "") == "still fine" for m in pa.received))
    finally:
        rogue.close()
        ea.stop(), eb.stop()


def test_a_message_of_several_parts_is_dropped_whole_and_the_next_one_is_read():
    """Our peers send one part; a stranger's extra parts must not shift the framing."""
    import zmq

    from engine.codec.binary import encode_batch

    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    rogue = zmq.Context.instance().socket(zmq.DEALER)
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.connect(ta.address)
    try:
        good = encode_batch([TTalk(pa.guid, pb.guid, "after the bad one")])
        rogue.send_multipart([good, good, b"third part"])
        rogue.send(good)
        assert _pump([ea], lambda: any(getattr(m, "text", "") == "after the bad one" for m in pa.received))
        assert ta.bad_frames == 1
        assert [m.text for m in pa.received if type(m) is TTalk] == ["after the bad one"]
    finally:
        rogue.close()
        ea.stop(), eb.stop()


def test_each_arrived_batch_goes_to_its_receivers_or_is_counted_lost():
    """One address (the usual batch), the transport itself, other nodes and mixes of them."""
    import zmq

    from engine.codec.binary import encode_batch

    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair()
    rogue = zmq.Context.instance().socket(zmq.DEALER)
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.connect(ta.address)
    elsewhere = module_guid(30, WellKnown.FIRST_FREE)
    nobody = make(10, 0, int(WellKnown.FIRST_FREE) + 5)
    try:
        assert _pump([ea, eb], lambda: ta.peers()[20]["received"] > 0)
        rogue.send(encode_batch([TTalk(pa.guid, pb.guid, f"a{i}") for i in range(20)]))
        assert _pump([ea], lambda: len([m for m in pa.received if type(m) is TTalk]) == 20)
        rogue.send(encode_batch([TTalk(elsewhere, pb.guid, "x")] * 7))
        assert _pump([ea], lambda: ta.undeliverable == 7)
        rogue.send(encode_batch([Ping(ta.guid, pb.guid, n, "p") for n in range(3)]))
        assert _pump([ea, eb], lambda: len([m for m in pb.received if type(m) is Pong]) == 3)
        rogue.send(encode_batch([TTalk(pa.guid, pb.guid, "b0"), Ping(ta.guid, pb.guid, 9, "q"),
                                 TTalk(elsewhere, pb.guid, "x"), TTalk(nobody, pb.guid, "x"),
                                 TTalk(pa.guid, pb.guid, "b1")]))
        assert _pump([ea, eb], lambda: any(type(m) is Pong and m.serial == 9 for m in pb.received))
        assert _pump([ea], lambda: ta.undeliverable == 9)
        texts = [m.text for m in pa.received if type(m) is TTalk]
        assert texts == [f"a{i}" for i in range(20)] + ["b0", "b1"]
        assert ta.bad_frames == 0
    finally:
        rogue.close()
        ea.stop(), eb.stop()


def test_what_the_tick_budget_left_in_zeromq_is_read_on_later_ticks():
    """Batches held back by max_messages_per_tick arrive with nothing new on the wire."""
    (ca, ea, ta, pa), (cb, eb, tb, pb) = _pair(max_messages_per_tick=10)
    try:
        assert _pump([ea, eb], lambda: ta.peers()[20]["received"] > 0)
        for i in range(5):
            pb.send_many([TTalk(pa.guid, pb.guid, f"{i}.{j}") for j in range(10)])
            eb.tick_once()
        assert _pump([ea], lambda: len([m for m in pa.received if type(m) is TTalk]) == 50)
        texts = [m.text for m in pa.received if type(m) is TTalk]
        assert texts == [f"{i}.{j}" for i in range(5) for j in range(10)]
    finally:
        ea.stop(), eb.stop()
