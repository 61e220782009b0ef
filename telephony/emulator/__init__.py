"""A process-local fake Asterisk (FastAGI client + AMI server) for tests and the demo."""

from telephony.emulator.calls import Call
from telephony.emulator.emulator import AsteriskEmulator
from telephony.emulator.model import AgentPhone, Caller, CallResult, Customer, DialRecord

__all__ = [
    "AgentPhone",
    "AsteriskEmulator",
    "Call",
    "CallResult",
    "Caller",
    "Customer",
    "DialRecord",
]
