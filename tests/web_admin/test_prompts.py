"""Recordings on /admin/prompts: an upload in any common format is converted for Asterisk
by ``hotline prompts import``'s code, a file that is not audio is refused beside the field,
and the playback route serves audio/wav to admins only and never outside prompts/."""

from __future__ import annotations

import asyncio
import subprocess
import wave
from pathlib import Path

import aiohttp
from yarl import URL

from hotline.web.auth.guard import CSRF_HEADER
from tests.web_admin.conftest import Admin, error_beside, form_fields


def speak(path: Path, words: str) -> Path:
    subprocess.run(["espeak-ng", "-w", str(path), words], check=True)
    return path


def spoken_recording(tmp_path: Path) -> Path:
    """A real studio-like recording: espeak-ng's voice at 22 kHz, made stereo 44.1 kHz
    and encoded as ogg by sox."""
    raw = tmp_path / "voice.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(raw), "Our new fibre offer costs two hundred dirhams"], check=True
    )
    studio = tmp_path / "studio.ogg"
    subprocess.run(["sox", str(raw), "-r", "44100", "-c", "2", str(studio)], check=True)
    return studio


async def upload(
    admin: Admin, path: Path, name: str, language: str, *, header: bool = True
) -> tuple[int, str]:
    _status, page = await admin.get("/admin/prompts")
    csrf = form_fields(page, "prompt-upload")["csrf"]
    form = aiohttp.FormData()
    form.add_field("csrf", csrf)
    form.add_field("name", name)
    form.add_field("language", language)
    form.add_field("file", await asyncio.to_thread(path.read_bytes), filename=path.name)
    headers = {CSRF_HEADER: csrf} if header else {}
    http = admin.clients["ada"]
    async with http.post(admin.url + "admin/prompts", data=form, headers=headers) as response:
        return response.status, await response.text()


async def test_an_ogg_recording_is_converted_to_8khz_mono_16bit_and_audited(
    admin: Admin, tmp_path: Path
) -> None:
    status, page = await upload(admin, spoken_recording(tmp_path), "offer-summer", "ar")
    assert status == 200, page
    assert "prompts/ar/offer-summer.wav: added" in page
    with wave.open(str(admin.prompts_dir / "ar" / "offer-summer.wav")) as audio:
        rate, channels, width = audio.getframerate(), audio.getnchannels(), audio.getsampwidth()
        seconds = audio.getnframes() / rate
    assert (rate, channels, width) == (8000, 1, 2)
    assert 1.5 < seconds < 6
    assert 'src="/admin/prompts/audio/ar/offer-summer.wav"' in page
    [entry] = await admin.service.audit.recent()
    assert (entry.target, entry.action) == ("prompts/ar/offer-summer.wav", "upload")
    assert "from studio.ogg" in entry.summary


async def test_a_small_wav_uploads_without_the_script_too(admin: Admin, tmp_path: Path) -> None:
    raw = speak(tmp_path / "welcome.wav", "Welcome")
    status, page = await upload(admin, raw, "welcome", "en", header=False)
    assert status == 200, page
    assert "prompts/en/welcome.wav: replaced" in page


async def test_a_file_that_is_not_audio_is_refused_beside_the_file_field(
    admin: Admin, tmp_path: Path
) -> None:
    before = (admin.prompts_dir / "en" / "welcome.wav").read_bytes()
    fake = tmp_path / "welcome.mp3"
    fake.write_text("this is a text file, not a recording\n" * 20)
    status, page = await upload(admin, fake, "welcome", "en")
    assert status == 422
    message = error_beside(page, "file")
    assert message.startswith("welcome.mp3: not audio ffmpeg can read"), message
    assert str(tmp_path) not in page
    assert (admin.prompts_dir / "en" / "welcome.wav").read_bytes() == before


async def test_a_bad_prompt_name_or_language_is_refused(admin: Admin, tmp_path: Path) -> None:
    raw = speak(tmp_path / "x.wav", "x")
    status, page = await upload(admin, raw, "../../etc/passwd", "en")
    assert status == 422
    assert error_beside(page, "name").startswith("letters, digits")
    status, page = await upload(admin, raw, "welcome", "fr")
    assert status == 422
    assert error_beside(page, "language") == "one of: en, ar"


async def test_playback_serves_wav_to_admins_only_and_refuses_paths_outside(
    admin: Admin,
) -> None:
    http = admin.clients["ada"]
    async with http.get(admin.url + "admin/prompts/audio/en/welcome.wav") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "audio/wav"
        body = await response.read()
    assert body == (admin.prompts_dir / "en" / "welcome.wav").read_bytes()
    status, _ = await admin.get("/admin/prompts/audio/en/welcome.wav", as_user="sam")
    assert status == 403
    (admin.prompts_dir.parent / "secret.wav").write_bytes(b"RIFF secret")
    for raw in (
        "admin/prompts/audio/en/../../secret.wav",
        "admin/prompts/audio/en/%2e%2e/%2e%2e/secret.wav",
        "admin/prompts/audio/en/..%2f..%2fsecret.wav",
        "admin/prompts/audio/..%2f..%2f/secret.wav",
        "admin/prompts/audio/fr/welcome.wav",
        "admin/prompts/audio/en/welcome.wav.bak",
    ):
        url = URL(admin.url + raw, encoded=True)
        async with http.get(url) as response:
            body = await response.read()
            assert response.status == 404, raw
            assert b"secret" not in body
