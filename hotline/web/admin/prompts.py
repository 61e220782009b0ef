"""``/admin/prompts``: the recorded prompts per language, played in the browser, and a
recording uploaded in any common format, converted for Asterisk by the same code as
``hotline prompts import`` (8 kHz mono 16-bit wav, written atomically).

Uploads are capped (``MAX_UPLOAD_BYTES``; the page's script sends the CSRF token as a
header so the file is streamed to disk within the cap, not read whole into memory) and
refused with the reason beside the file field when they are not audio or are too long.
Playback is served only to admins, only for a prompt name in a language of the flow, and
only from inside the prompts directory.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from aiohttp import BodyPartReader, web
from pydantic import TypeAdapter, ValidationError

from hotline.web.admin.context import audited
from hotline.web.admin.forms import FormErrors, actor, editor_of, error, text
from hotline.web.auth.guard import CSRF_HEADER, current_session, page, requires
from hotline.web.auth.users import Role
from hotline.web.templates import Safe, escape, render
from hotline.workers import PoolBusy, WorkPool
from ivr.flow.fields import PromptName
from ivr.prompts import PromptImportError, PromptStore, audio_problem, import_prompt

MAX_UPLOAD_BYTES = 25 << 20
#: Conversions run in threads of their own (one at a time, a few waiting), never in the
#: loop's default executor: a pile of uploads cannot delay the history spool's writes.
AUDIO = web.AppKey("hotline_audio_pool", WorkPool)
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
_FIELD_BYTES = 1024
_CHUNK = 64 << 10
_PROMPT_NAME: TypeAdapter[str] = TypeAdapter(PromptName)
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")


class _TooBig(Exception):
    pass


def _store(request: web.Request) -> tuple[PromptStore, tuple[str, ...]]:
    ivr = editor_of(request).current().ivr
    return PromptStore.from_settings(ivr.prompts), ivr.all_languages


def _valid_name(name: str) -> bool:
    try:
        _PROMPT_NAME.validate_python(name)
    except ValidationError:
        return False
    return True


def _names(store: PromptStore, languages: tuple[str, ...]) -> list[str]:
    found: set[str] = set()
    for language in languages:
        folder = store.directory / language
        if folder.is_dir():
            for path in folder.rglob("*.wav"):
                name = path.relative_to(folder).with_suffix("").as_posix()
                if _valid_name(name):
                    found.add(name)
    return sorted(found)


def _rows(store: PromptStore, languages: tuple[str, ...]) -> Safe:
    rows = []
    for name in _names(store, languages):
        cells = []
        for language in languages:
            path = store.file(name, language)
            if not path.is_file():
                cells.append('<td class="missing">[[missing]]</td>')
                continue
            problem = audio_problem(path)
            src = f"/admin/prompts/audio/{escape(language)}/{escape(name)}.wav"
            note = f'<span class="error">{escape(problem)}</span>' if problem else ""
            cells.append(f'<td><audio controls preload="none" src="{src}"></audio>{note}</td>')
        rows.append(
            f'<tr data-prompt="{escape(name)}"><td>{escape(name)}</td>{"".join(cells)}</tr>'
        )
    return Safe("".join(rows))


async def _page(
    request: web.Request,
    *,
    values: Mapping[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: Safe | str = "",
    status: int = 200,
) -> web.Response:
    store, languages = _store(request)
    values = values or {}
    errors = errors or FormErrors()
    options = "".join(
        f"<option{' selected' if values.get('language') == lang else ''}>{escape(lang)}</option>"
        for lang in languages
    )
    names = "".join(f'<option value="{escape(n)}">' for n in _names(store, languages))
    body = render(
        "admin_prompts.html",
        notice=notice,
        heads=Safe("".join(f"<th>{escape(lang)}</th>" for lang in languages)),
        rows=_rows(store, languages),
        csrf=current_session(request).csrf,
        name=values.get("name", ""),
        names=Safe(names),
        name_error=error(errors, "name"),
        languages=Safe(options),
        language_error=error(errors, "language"),
        file_error=error(errors, "file"),
        max_mb=MAX_UPLOAD_BYTES >> 20,
    )
    return page(request, "Prompts", body, status=status)


@requires(Role.ADMIN)
async def prompts_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def _spool(chunks: object, destination: Path) -> int:
    """Write an upload's chunks to ``destination``; raises ``_TooBig`` past the cap."""
    size = 0
    with destination.open("wb") as out:
        async for chunk in chunks:  # type: ignore[attr-defined]
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise _TooBig
            await asyncio.to_thread(out.write, chunk)
    return size


async def _part_chunks(part: BodyPartReader):  # type: ignore[no-untyped-def]
    while chunk := await part.read_chunk(_CHUNK):
        yield chunk


async def _form_file_chunks(handle: object):  # type: ignore[no-untyped-def]
    while chunk := await asyncio.to_thread(handle.read, _CHUNK):  # type: ignore[attr-defined]
        yield chunk


async def _receive(request: web.Request, folder: Path) -> tuple[dict[str, str], Path | None, str]:
    """The form's fields, the uploaded file saved in ``folder`` (None: no file) and the
    name the browser gave it. Raises ``_TooBig``."""
    fields: dict[str, str] = {}
    if request.content_type not in _FORMS:
        raise web.HTTPBadRequest(text="send the form (multipart/form-data)")
    if CSRF_HEADER in request.headers:  # the page's script: stream the file to disk
        if request.content_type != "multipart/form-data":
            raise web.HTTPBadRequest(text="send the file as multipart/form-data")
        reader = await request.multipart()
        saved: Path | None = None
        filename = ""
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "file" and saved is None:
                filename = part.filename or ""
                saved = folder / ("upload" + _suffix(filename))
                if await _spool(_part_chunks(part), saved) == 0:
                    saved = None
            elif part.name:
                raw = await part.read_chunk(_FIELD_BYTES)
                fields[part.name] = raw.decode("utf-8", "replace").strip()
                await part.release()
        return fields, saved, filename
    form = await request.post()  # read (within the app's body limit) by the CSRF check
    for key, value in form.items():
        if isinstance(value, str):
            fields[key] = value.strip()[:_FIELD_BYTES]
    upload = form.get("file")
    if not isinstance(upload, web.FileField) or not upload.filename:
        return fields, None, ""
    saved = folder / ("upload" + _suffix(upload.filename))
    if await _spool(_form_file_chunks(upload.file), saved) == 0:
        return fields, None, upload.filename
    return fields, saved, upload.filename


def _suffix(filename: str) -> str:
    suffix = Path(filename).suffix
    return suffix.lower() if _SUFFIX.match(suffix) else ""


@requires(Role.ADMIN)
async def upload_prompt(request: web.Request) -> web.StreamResponse:
    store, languages = _store(request)
    errors = FormErrors()
    folder = Path(tempfile.mkdtemp(prefix="hotline-upload-"))
    try:
        try:
            fields, upload, filename = await _receive(request, folder)
        except _TooBig:
            fields, upload, filename = {}, None, ""
            errors.add("file", f"larger than {MAX_UPLOAD_BYTES >> 20} MB")
        name, language = text(fields, "name", limit=128), text(fields, "language", limit=16)
        if not _valid_name(name):
            errors.add("name", "letters, digits, _ and -, sub-folders with /; no extension")
        if language not in languages:
            errors.add("language", "one of: " + ", ".join(languages))
        if upload is None:
            errors.add("file", "choose a recording (wav, mp3, ogg, ...)")
        seconds = 0.0
        destination = store.file(name, language)
        existed = destination.exists()
        if not errors and upload is not None:
            try:
                seconds = await request.app[AUDIO].run(import_prompt, upload, destination)
            except PoolBusy:
                errors.add("file", "other recordings are being converted; retry in a moment")
            except PromptImportError as exc:
                shown = os.path.basename(filename) or "the file"
                errors.add("file", str(exc).replace(str(upload), shown))
        if errors:
            values = {"name": name, "language": language}
            return await _page(request, values=values, errors=errors, status=422)
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
    target = f"prompts/{language}/{name}.wav"
    verb = "replaced" if existed else "added"
    await audited(
        request,
        actor=actor(request),
        target=target,
        action="upload",
        summary=f"{target} {verb} from {os.path.basename(filename)[:100]} ({seconds:.1f} s)",
    )
    shown = "[[replaced]]" if existed else "[[added]]"
    notice = Safe(
        f'<span id="saved">{escape(target)}: {shown} ({seconds:.1f} s, 8000 Hz mono 16-bit)</span>'
    )
    return await _page(request, notice=notice)


@requires(Role.ADMIN)
async def prompt_audio(request: web.Request) -> web.StreamResponse:
    """One recording as audio/wav; anything but a prompt of a flow language: 404."""
    store, languages = _store(request)
    language, name = request.match_info["language"], request.match_info["name"]
    if language not in languages or not _valid_name(name):
        raise web.HTTPNotFound(text="no such prompt")
    root = store.directory.resolve()
    path = store.file(name, language).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound(text="no such prompt")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def add_routes(app: web.Application) -> None:
    app[AUDIO] = WorkPool("audio-convert", workers=1, max_waiting=4)
    app.router.add_get("/admin/prompts", prompts_page)
    app.router.add_post("/admin/prompts", upload_prompt)
    app.router.add_get(
        r"/admin/prompts/audio/{language:[a-z]{2,3}(?:-[A-Za-z]{2})?}/{name:[A-Za-z0-9_\-/]+}.wav",
        prompt_audio,
    )
