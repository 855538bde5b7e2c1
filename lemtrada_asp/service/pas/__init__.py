"""PAS as payers run it: the stored lifecycle of a request (``lifecycle``), what it reads off a
Claim (``claims``), what it adds to a response (``responses``) and its HTTP routes (``routes``)."""

from .lifecycle import Answered, Lifecycle, state_of

__all__ = ["Lifecycle", "Answered", "state_of"]
