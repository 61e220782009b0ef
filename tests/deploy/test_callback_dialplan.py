"""The callback context: what hotline Originates into, the deployment dials, the emulator plays."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from center.callbacks import VAR_CALLBACK, VAR_CALLBACK_CALLERID, VAR_CALLBACK_RING_S
from hotline.config import Config, load_config
from telephony.emulator import AsteriskEmulator
from telephony.emulator.contexts import Contexts

from .asterisk_conf import Section, Step, dialplan, read_conf

ROOT = Path(__file__).resolve().parents[2]
ASTERISK = ROOT / "docker" / "asterisk"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(ROOT / "config", environ={})


@pytest.fixture(scope="module")
def callback_steps(config: Config) -> list[Step]:
    sections = {s.name: s for s in read_conf(ASTERISK / "extensions.conf")}
    context: Section = sections[config.waiting.callbacks.context]
    return dialplan(context)


def test_every_number_pattern_dials_the_customer_over_the_trunk_with_the_businesss_caller_id(
    callback_steps: list[Step],
) -> None:
    patterns = {s.exten for s in callback_steps}
    assert patterns == {"_+X.", "_X."}  # numbers only: nothing else can be reached from here
    for pattern in patterns:
        apps = [(s.app, s.args) for s in callback_steps if s.exten == pattern]
        assert apps[1] == ("Set", f"CALLERID(all)=${{{VAR_CALLBACK_CALLERID}}}")
        assert apps[2] == ("Dial", f"PJSIP/${{EXTEN}}@trunk,${{{VAR_CALLBACK_RING_S}}}")
        assert VAR_CALLBACK in apps[0][1]
        assert apps[-1][0] == "Hangup"


def test_the_trunk_exists_and_no_phone_lands_in_the_callback_context(config: Config) -> None:
    endpoints = [s for s in read_conf(ASTERISK / "pjsip.conf") if s.get("type") == "endpoint"]
    assert "trunk" in {s.name for s in endpoints}
    assert config.waiting.callbacks.context not in {s.get("context") for s in endpoints}


def test_the_emulator_plays_the_deployments_callback_context(
    config: Config, callback_steps: list[Step]
) -> None:
    defaults = inspect.signature(AsteriskEmulator).parameters
    assert defaults["callback_context"].default == config.waiting.callbacks.context
    emulated = Contexts("hotline-fallback", "hotline", 60, trunk=defaults["trunk"].default)
    deployed = [(s.app, s.args) for s in callback_steps if s.exten == "_+X."]
    played = [(app, args) for app, args in emulated.callback_steps()]
    assert [app for app, _ in played] == [app for app, _ in deployed]
    assert played[1:] == deployed[1:]  # the NoOp's text may differ
