"""Executes one AGI command line the way res_agi does: parsing, dead mode, replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from telephony import agi_codec as agi
from telephony.emulator import agi_media, events
from telephony.emulator.agi_reply import (
    DEAD,
    INVALID,
    AgiContext,
    Reply,
    ok,
    parse_int,
    show_usage,
)
from telephony.emulator.apps import find_app, set_app
from telephony.emulator.channel import UP
from telephony.emulator.variables import get_var, parse_callerid, substitute

Handler = Callable[[AgiContext, list[str]], Awaitable[Reply]]
GOSUB_RETVAL: Final = "GOSUB_RETVAL"


async def execute(ctx: AgiContext, line: str) -> Reply:
    name, args = agi.parse_command(agi.split_command(line))
    if name is None:
        return INVALID
    if ctx.dead and name not in agi.DEAD_MODE_COMMANDS:
        return DEAD
    if name.startswith("SAY "):
        return await agi_media.say(ctx, name, args)
    handler = HANDLERS.get(name)
    if handler is None:  # TDD MODE, SEND TEXT, RECEIVE CHAR: nothing to emulate
        return ok(0)
    return await handler(ctx, args)


async def _answer(ctx: AgiContext, args: list[str]) -> Reply:
    ctx.ch.set_state(UP)
    return ok(0)


async def _channel_status(ctx: AgiContext, args: list[str]) -> Reply:
    if len(args) > 1:
        return show_usage(agi.CHANNEL_STATUS)
    target = ctx.pbx.find(args[0]) if args else ctx.ch
    return ok(-1 if target is None else target.state)


async def _database(ctx: AgiContext, command: str, args: list[str]) -> Reply:
    db = ctx.pbx.astdb
    if command == agi.DATABASE_PUT:
        if len(args) != 3:
            return show_usage(command)
        db[(args[0], args[1])] = args[2]
        return ok(1)
    if command == agi.DATABASE_DELTREE:
        if not 1 <= len(args) <= 2:
            return show_usage(command)
        prefix = args[1] if len(args) > 1 else ""
        for key in [k for k in db if k[0] == args[0] and k[1].startswith(prefix)]:
            del db[key]
        return ok(0)
    if len(args) != 2:
        return show_usage(command)
    key = (args[0], args[1])
    if command == agi.DATABASE_GET:
        return ok(1, data=db[key]) if key in db else ok(0)
    return ok(1) if db.pop(key, None) is not None else ok(0)


def _db(command: str) -> Handler:
    async def handler(ctx: AgiContext, args: list[str]) -> Reply:
        return await _database(ctx, command, args)

    return handler


async def _exec(ctx: AgiContext, args: list[str]) -> Reply:
    if not args:
        return show_usage(agi.EXEC)
    app_name, data = args[0], args[1] if len(args) > 1 else ""
    app = find_app(app_name)
    if app is None:
        return Reply(agi.encode_response(-2), outcome="Unknown Result")
    ch = ctx.ch
    if ctx.dead:  # the application gives up at once on a dead channel
        if app is set_app:
            await app(ctx.pbx, ch, data)
        return ok(0)
    saved = (ch.app, ch.appdata)
    ch.app, ch.appdata = app_name, data
    try:
        result = await app(ctx.pbx, ch, data)
    finally:
        ch.app, ch.appdata = saved
    return Reply(
        agi.encode_response(result), outcome="Success" if result == 0 else "Unknown Result"
    )


async def _get_full_variable(ctx: AgiContext, args: list[str]) -> Reply:
    if not 1 <= len(args) <= 2:
        return show_usage(agi.GET_FULL_VARIABLE)
    target = ctx.pbx.find(args[1]) if len(args) > 1 else ctx.ch
    if target is None:
        return ok(0)
    return ok(1, data=substitute(ctx.pbx, target, args[0]))


async def _get_variable(ctx: AgiContext, args: list[str]) -> Reply:
    if len(args) != 1:
        return show_usage(agi.GET_VARIABLE)
    value = get_var(ctx.pbx, ctx.ch, args[0])
    return ok(0) if value is None else ok(1, data=value)


async def _gosub(ctx: AgiContext, args: list[str]) -> Reply:
    """Runs a subroutine of the emulator's dialplan up to its Return()."""
    if not 3 <= len(args) <= 4:
        return show_usage(agi.GOSUB)
    priority = parse_int(args[2])
    steps = ctx.contexts.steps(args[0], args[1])
    if priority is None or steps is None or not 1 <= priority <= len(steps):
        return ok(-1, extra="Gosub label not found")
    for i, value in enumerate(args[3].split(",") if len(args) > 3 else [], start=1):
        ctx.ch.set_var(f"ARG{i}", value)
    for app_name, data in steps[priority - 1 :]:
        data = substitute(ctx.pbx, ctx.ch, data)
        if app_name == "Return":
            ctx.ch.set_var(GOSUB_RETVAL, data)
            break
        app = find_app(app_name)
        if app is not None and await app(ctx.pbx, ctx.ch, data) < 0:
            break
    return Reply(agi.GOSUB_TRYING, tail=agi.encode_response(0, extra="Gosub complete"))


async def _hangup(ctx: AgiContext, args: list[str]) -> Reply:
    if len(args) > 1:
        return show_usage(agi.HANGUP)
    target = ctx.pbx.find(args[0]) if args else ctx.ch
    if target is None:
        return ok(-1)
    ctx.pbx.emit(events.hangup_request(target, 32, soft=True))
    target.hang_up(by="agi")
    return ok(1)


async def _noop(ctx: AgiContext, args: list[str]) -> Reply:
    return ok(0)


async def _set_autohangup(ctx: AgiContext, args: list[str]) -> Reply:
    try:
        seconds = float(args[0]) if len(args) == 1 else None
    except ValueError:
        seconds = None
    if seconds is None:
        return show_usage(agi.SET_AUTOHANGUP)
    ctx.ch.set_autohangup(seconds)
    return ok(0)


async def _set_callerid(ctx: AgiContext, args: list[str]) -> Reply:
    if args:
        ctx.ch.caller_name, ctx.ch.caller_num = parse_callerid(args[0])
    return ok(1)


def _set_position(field: str) -> Handler:
    command = {
        "context": agi.SET_CONTEXT,
        "exten": agi.SET_EXTENSION,
        "priority": agi.SET_PRIORITY,
    }[field]

    async def handler(ctx: AgiContext, args: list[str]) -> Reply:
        if len(args) != 1:
            return show_usage(command)
        if field == "context":
            ctx.ch.context = args[0]
        elif field == "exten":
            ctx.ch.exten = args[0]
        else:
            priority = parse_int(args[0])
            if priority is None or priority < 1:
                return show_usage(command)
            ctx.ch.priority = priority - 1  # the dialplan adds one when the AGI returns
        return ok(0)

    return handler


async def _set_music(ctx: AgiContext, args: list[str]) -> Reply:
    if not 1 <= len(args) <= 2:
        return show_usage(agi.SET_MUSIC)
    on = args[0].lower() == "on"
    ctx.pbx.emit(events.musiconhold(ctx.ch, on, args[1] if len(args) > 1 else "default"))
    return ok(0)


async def _set_variable(ctx: AgiContext, args: list[str]) -> Reply:
    if len(args) < 2:
        return show_usage(agi.SET_VARIABLE)
    ctx.ch.set_var(args[0], args[1])
    return ok(1)


async def _verbose(ctx: AgiContext, args: list[str]) -> Reply:
    return show_usage(agi.VERBOSE) if not args else ok(1)


async def _stream(ctx: AgiContext, args: list[str]) -> Reply:
    return await agi_media.stream_file(ctx, args)


async def _control_stream(ctx: AgiContext, args: list[str]) -> Reply:
    return await agi_media.stream_file(ctx, args, control=True)


HANDLERS: Final[dict[str, Handler]] = {
    agi.ANSWER: _answer,
    agi.CHANNEL_STATUS: _channel_status,
    agi.CONTROL_STREAM_FILE: _control_stream,
    agi.DATABASE_DEL: _db(agi.DATABASE_DEL),
    agi.DATABASE_DELTREE: _db(agi.DATABASE_DELTREE),
    agi.DATABASE_GET: _db(agi.DATABASE_GET),
    agi.DATABASE_PUT: _db(agi.DATABASE_PUT),
    agi.EXEC: _exec,
    agi.GET_DATA: agi_media.get_data,
    agi.GET_FULL_VARIABLE: _get_full_variable,
    agi.GET_OPTION: agi_media.get_option,
    agi.GET_VARIABLE: _get_variable,
    agi.GOSUB: _gosub,
    agi.HANGUP: _hangup,
    agi.NOOP: _noop,
    agi.RECORD_FILE: agi_media.record_file,
    agi.SET_AUTOHANGUP: _set_autohangup,
    agi.SET_CALLERID: _set_callerid,
    agi.SET_CONTEXT: _set_position("context"),
    agi.SET_EXTENSION: _set_position("exten"),
    agi.SET_MUSIC: _set_music,
    agi.SET_PRIORITY: _set_position("priority"),
    agi.SET_VARIABLE: _set_variable,
    agi.STREAM_FILE: _stream,
    agi.VERBOSE: _verbose,
    agi.WAIT_FOR_DIGIT: agi_media.wait_for_digit,
}
