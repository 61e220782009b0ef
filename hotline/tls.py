"""TLS contexts for the web server (HTTPS) and the AMI client (Asterisk's TLS manager port),
and the checks ``hotline check-config`` makes of their files.

Both refuse anything older than TLS 1.2 (``min_version`` may raise it to 1.3). The server's
certificate chain and key are PEM files; a client verifies Asterisk's certificate against
``ca_file`` (or the system's store) and its name, unless ``verify`` is turned off (a
self-signed certificate on a private network: said in the log at every connection).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(cert_file: Path, key_file: Path, *, min_version: str = "1.2") -> ssl.SSLContext:
    """``ssl.SSLError``/``OSError`` when the files cannot be used (``check_server_files``
    says why, located, before the service starts)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = VERSIONS[min_version]
    context.load_cert_chain(cert_file, key_file)
    return context


def client_context(
    *, ca_file: Path | None = None, verify: bool = True, min_version: str = "1.2"
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    context.minimum_version = VERSIONS[min_version]
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _readable(path: Path) -> str | None:
    if not path.is_file():
        return f"{path}: no such file"
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as error:
        return f"{path}: cannot be read ({error.strerror or error})"
    return None


def check_server_files(
    cert_file: Path, key_file: Path, min_version: str = "1.2"
) -> Iterator[tuple[str, str]]:
    """(key, reason) for each problem: a missing or unreadable file, a file that is not a
    PEM certificate or key, a key that does not belong to the certificate."""
    found = False
    for key, path in (("cert_file", cert_file), ("key_file", key_file)):
        problem = _readable(path)
        if problem is not None:
            found = True
            yield key, problem
    if found:
        return
    try:
        server_context(cert_file, key_file, min_version=min_version)
    except ssl.SSLError as error:
        reason = error.reason or str(error)
        if "KEY_VALUES_MISMATCH" in str(reason).upper():
            yield "key_file", f"{key_file}: not the key of the certificate in {cert_file}"
        else:
            problem = f"not a PEM certificate and key ({reason})"
            yield "cert_file", f"{cert_file} with {key_file}: {problem}"


def check_ca_file(ca_file: Path) -> Iterator[str]:
    problem = _readable(ca_file)
    if problem is not None:
        yield problem
        return
    try:
        client_context(ca_file=ca_file)
    except ssl.SSLError as error:
        yield f"{ca_file}: not PEM certificates ({error.reason or error})"
