"""The Session fed with the login node's and the world's real messages, over an in-memory link."""

from engine.guid import Guid
from engine.login.messages import (
    AccountCreated,
    CharacterList,
    CreateAccountRequest,
    CreateCharacterRequest,
    EnteredWorld,
    EnterWorldRequest,
    GoTo,
    LoginOk,
    LoginRequest,
    Logout,
    Refused,
)
from engine.modules.network_messages import ConnectionLost, Welcome
from gamelogic import operations as ops
from nodes.client.mirror import WorldMirror
from nodes.client.session import RETRY_SECONDS, Phase, Session

ME = 0x0001_0000_0010_0001


class MemoryLink:
    """The Link interface in memory: what the session opened and sent, in order."""

    def __init__(self):
        self.opened = []
        self.sent = []
        self.closed = []

    def open(self, address, token):
        self.opened.append((address, token))

    def send(self, message):
        self.sent.append(message)

    def close(self, reason):
        self.closed.append(reason)


def started():
    link = MemoryLink()
    session = Session("127.0.0.1:7001", link, WorldMirror())
    session.start(0.0)
    session.handle([Welcome(Guid(0), Guid(0), Guid(5))], 0.0)
    return session, link


def login_ok(characters=(), token="resume-me"):
    return LoginOk(Guid(0), Guid(0), 7, token, 0.0, [list(c) for c in characters])


def entered():
    state = {"character": {"name": "Ann", "position": [1.0, 2.0, 0.0]}}
    return EnteredWorld(Guid(0), Guid(0), Guid(ME), state)


def test_start_connects_to_the_login_node_and_the_welcome_clears_connecting():
    session, link = started()
    assert link.opened == [("127.0.0.1:7001", None)]
    assert session.phase is Phase.LOGIN and session.status == "" and session.error == ""


def test_play_makes_the_account_then_the_character_then_enters():
    session, link = started()
    session.play("ann", "pw", "Annika")
    assert type(link.sent[-1]) is CreateAccountRequest
    session.handle([AccountCreated(Guid(0), Guid(0), 7)], 0.1)
    assert type(link.sent[-1]) is LoginRequest
    session.handle([login_ok()], 0.2)
    assert session.phase is Phase.CHARACTERS and type(link.sent[-1]) is CreateCharacterRequest
    session.handle([CharacterList(Guid(0), Guid(0), [[3, "Annika"]])], 0.3)
    assert type(link.sent[-1]) is EnterWorldRequest and link.sent[-1].character_id == 3
    session.handle([GoTo(Guid(0), Guid(0), 3, "127.0.0.1:7000", "entry-token")], 0.4)
    assert session.phase is Phase.ENTERING and link.opened[-1] == ("127.0.0.1:7000", "entry-token")
    session.handle([entered()], 0.5)
    assert session.phase is Phase.WORLD and session.mirror.me == ME and session.entered == 1


def test_play_logs_in_to_an_account_that_exists_and_enters_a_character_it_has():
    session, link = started()
    session.play("ann", "pw", "Annika")
    session.handle([Refused(Guid(0), Guid(0), "create_account", "that account name is taken")], 0.1)
    assert type(link.sent[-1]) is LoginRequest and session.error == ""
    session.handle([login_ok([[3, "Annika"]])], 0.2)
    assert type(link.sent[-1]) is EnterWorldRequest


def test_a_refusal_is_shown_and_stops_the_script():
    session, link = started()
    session.play("ann", "pw", "Annika")
    session.handle([Refused(Guid(0), Guid(0), "create_account", "that account name is taken")], 0.1)
    session.handle([Refused(Guid(0), Guid(0), "login", "wrong account name or password")], 0.2)
    assert session.phase is Phase.LOGIN and session.error == "wrong account name or password"
    sent = len(link.sent)
    session.handle([login_ok()], 0.3)  # even if something logs it in later, the script does not go on
    assert len(link.sent) == sent


def test_one_request_at_a_time():
    session, link = started()
    assert session.login("ann", "pw")
    assert not session.create_account("bob", "pw")
    assert "not answered yet" in session.error and len(link.sent) == 1


def test_world_operations_are_numbered_and_only_sent_in_the_world():
    session, link = started()
    assert session.act(ops.Talk(0, 0, text="too early")) == 0 and link.sent == []
    session.handle([login_ok([[3, "Ann"]])], 0.1)
    session.enter(3)
    session.handle([GoTo(Guid(0), Guid(0), 3, "127.0.0.1:7000", "t"), entered()], 0.2)
    first = session.act(ops.Talk(0, 0, text="hi"))
    second = session.act(ops.Attack(0, 0, target=Guid(9)))
    assert (first, second) == (1, 2)
    assert [(m.serialno, m.frm) for m in link.sent[-2:]] == [(1, ME), (2, ME)]


def test_losing_the_world_goes_back_to_the_login_screen_with_the_reason():
    session, link = started()
    session.handle([login_ok([[3, "Ann"]])], 0.1)
    session.enter(3)
    session.handle([GoTo(Guid(0), Guid(0), 3, "127.0.0.1:7000", "t"), entered()], 0.2)
    session.handle([ConnectionLost(Guid(0), Guid(0), "protocol error from the server: bad frame")], 0.3)
    assert session.phase is Phase.LOGIN
    assert session.error == "disconnected from the world: protocol error from the server: bad frame"
    assert link.opened[-1] == ("127.0.0.1:7001", None) and session.mirror.me == 0


def test_leaving_returns_to_the_characters_with_the_resume_token():
    session, link = started()
    session.handle([login_ok([[3, "Ann"]], token="tok")], 0.1)
    session.enter(3)
    session.handle([GoTo(Guid(0), Guid(0), 3, "127.0.0.1:7000", "t"), entered()], 0.2)
    session.leave()
    assert type(link.sent[-1]) is Logout
    session.handle([ConnectionLost(Guid(0), Guid(0), "server closed: logged out")], 0.3)
    assert link.opened[-1] == ("127.0.0.1:7001", "tok") and session.error == ""
    session.handle([login_ok([[3, "Ann"]], token="tok2")], 0.4)
    assert session.phase is Phase.CHARACTERS


def test_an_unreachable_login_node_is_retried():
    session, link = started()
    session.handle([ConnectionLost(Guid(0), Guid(0), "cannot connect to 127.0.0.1:7001: ECONNREFUSED")], 1.0)
    assert session.phase is Phase.OFFLINE and "ECONNREFUSED" in session.error
    session.tick(1.0 + RETRY_SECONDS / 2)
    assert len(link.opened) == 1
    session.tick(1.0 + RETRY_SECONDS)
    assert len(link.opened) == 2 and session.phase is Phase.LOGIN
