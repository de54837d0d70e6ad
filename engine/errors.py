"""Errors that ``send`` raises when it cannot place a message (see :mod:`engine.engine`)."""


class RoutingError(RuntimeError):
    """Base of the errors ``send`` raises when it cannot place a message."""


class UndeclaredPipeError(RoutingError):
    """The stack declares no pipe from the sender to the receiver."""


class UnroutableError(RoutingError):
    """Nothing on this node takes the address (no such module, space or transport)."""
