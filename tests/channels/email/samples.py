"""Messages as real mail clients write them (raw bytes, CRLF), and hostile ones."""

from __future__ import annotations

import base64
import io
import quopri
import zipfile
from datetime import UTC, datetime

RECEIVED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode("ascii") + b"\r\n"


def b64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def qp(text: str, charset: str) -> str:
    return quopri.encodestring(text.encode(charset)).decode()  # LF: crlf() makes it CRLF


_GMAIL_PLAIN = qp(
    "Bonjour,\n\nma facture de février est fausse : 42,00 € au lieu de 24,00 €.\n\nChloé", "utf-8"
)
_GMAIL_HTML = qp(
    '<div dir="ltr">Bonjour,<br><br>ma facture de <b>février</b> est fausse</div>', "utf-8"
)
_ARABIC_FROM = base64.b64encode("أحمد".encode("cp1256")).decode()
_ARABIC_SUBJECT = base64.b64encode("رد: الفاتورة".encode("cp1256")).decode()
_ARABIC_BODY = qp("مرحبا، ما زلت أنتظر الاسترداد.", "cp1256")

#: Gmail: multipart/alternative, UTF-8 quoted-printable plain and HTML, an RFC 2047 name.
GMAIL_ALTERNATIVE = crlf(f"""
MIME-Version: 1.0
Date: Mon, 2 Mar 2026 10:12:01 +0100
Message-ID: <CAF=abc123+XyZ@mail.gmail.com>
Subject: =?UTF-8?Q?Probl=C3=A8me_avec_ma_facture?=
From: =?UTF-8?Q?Chlo=C3=A9_Martin?= <chloe.martin@Gmail.com>
To: Support <support@hotline.test>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{_GMAIL_PLAIN}
--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

{_GMAIL_HTML}
--000000000000a1b2c3--
""")

#: Outlook in Arabic: Windows-1256, quoted-printable, the subject base64-encoded in
#: windows-1256, a reply to one of our messages.
OUTLOOK_ARABIC = crlf(f"""
From: =?windows-1256?B?{_ARABIC_FROM}?= <ahmed@example.sa>
To: "support@hotline.test" <support@hotline.test>
Subject: =?windows-1256?B?{_ARABIC_SUBJECT}?=
Date: Mon, 2 Mar 2026 11:00:00 +0300
Message-ID: <DB9PR01MB1234ABCD@DB9PR01MB1234.eurprd01.prod.OUTLOOK.COM>
In-Reply-To: <reply-1@Hotline.Test>
References: <first@hotline.test> <reply-1@hotline.test>
Content-Language: ar-SA
Content-Type: text/plain; charset="windows-1256"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

{_ARABIC_BODY}
""")

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

#: Apple Mail: multipart/mixed ⊃ (multipart/alternative ⊃ (plain, multipart/related ⊃ (html,
#: image)), a PDF with an RFC 2231 filename, a text file attachment).
APPLE_NESTED = crlf(f"""
From: Jean Dupont <jean@example.fr>
Content-Type: multipart/mixed; boundary="Apple-Mail=_OUTER"
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Subject: Contrat et photo
Message-Id: <5A1B2C3D-0000-4E5F-9A8B-1234567890AB@example.fr>
Date: Mon, 2 Mar 2026 12:00:00 +0100
To: support@hotline.test
Cc: Marie <marie@example.fr>, "Dupont, Paul" <paul@example.fr>

--Apple-Mail=_OUTER
Content-Type: multipart/alternative; boundary="Apple-Mail=_ALT"

--Apple-Mail=_ALT
Content-Transfer-Encoding: 7bit
Content-Type: text/plain; charset=us-ascii

Please find the contract attached.
--Apple-Mail=_ALT
Content-Type: multipart/related; type="text/html"; boundary="Apple-Mail=_REL"

--Apple-Mail=_REL
Content-Transfer-Encoding: 7bit
Content-Type: text/html; charset=us-ascii

<html><body>Please find the <b>contract</b> attached.<img src="cid:logo"></body></html>
--Apple-Mail=_REL
Content-Transfer-Encoding: base64
Content-Disposition: inline; filename=logo.png
Content-Type: image/png; name="logo.png"
Content-Id: <logo>

{b64(PNG)}
--Apple-Mail=_REL--

--Apple-Mail=_ALT--

--Apple-Mail=_OUTER
Content-Disposition: attachment;
\tfilename*=utf-8''contrat%20sign%C3%A9.pdf
Content-Type: application/pdf;
\tname*=utf-8''contrat%20sign%C3%A9.pdf
Content-Transfer-Encoding: base64

{b64(PDF)}
--Apple-Mail=_OUTER
Content-Disposition: attachment; filename="notes.txt"
Content-Type: text/plain; charset=utf-8

meter reading 12345
--Apple-Mail=_OUTER--
""")

#: An HTML-only newsletter-style message with script, style and a tracking pixel.
HTML_ONLY = crlf("""
From: shop@example.com
To: support@hotline.test
Subject: Order 991
Message-ID: <order-991@example.com>
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<html><head><style>body {color: red}</style><script>steal(document.cookie)</script></he=
ad><body><h1>Order 991</h1><p>Caf=E9 cr=E8me &amp; cookies.</p>
<p>Track it <a href=3D"https://track.example.com/991">here</a>.</p>
<img src=3D"https://pixel.example.com/t.gif" width=3D1 height=3D1>
<script type=3D"text/javascript">alert('x')</script></body></html>
""")


def message(headers: str, body: bytes = b"hello\r\n") -> bytes:
    """A message from header lines (LF) and a raw body."""
    return crlf(headers) + b"\r\n" + body


def nested_multiparts(depth: int) -> bytes:
    """A MIME bomb: multipart/mixed inside multipart/mixed, ``depth`` times, text at the
    bottom, and a sibling text part after the deepest container at the top level."""
    head: list[str] = []
    tail: list[str] = []
    for level in range(depth):
        head.append(f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n')
        tail.insert(0, f"\r\n--b{level}--\r\n")
    inner = "".join(head) + "Content-Type: text/plain\r\n\r\ndeep text" + "".join(tail)
    top = (
        'Content-Type: multipart/mixed; boundary="top"\r\n\r\n'
        "--top\r\nContent-Type: text/plain\r\n\r\nvisible text\r\n"
        f"--top\r\n{inner}\r\n"
        "--top\r\nContent-Type: text/plain\r\n\r\nafter the bomb\r\n"
        "--top--\r\n"
    )
    return b"From: a@example.com\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n" + top.encode()


def many_parts(count: int) -> bytes:
    parts = "".join(f"--B\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(count))
    return (
        b"From: a@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + parts.encode() + b"--B--\r\n"
    )


def with_attachment(data: bytes, filename: str, content_type: str) -> bytes:
    return crlf(f"""
From: a@example.com
To: support@hotline.test
Subject: attached
Message-ID: <att@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="M"

--M
Content-Type: text/plain; charset=utf-8

see attached
--M
Content-Type: {content_type}
Content-Disposition: attachment; filename="{filename}"
Content-Transfer-Encoding: base64

{b64(data)}
--M--
""")


def zip_bomb(uncompressed_bytes: int) -> bytes:
    """A zip of one file of zeros: a few KiB that would inflate to ``uncompressed_bytes``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", bytes(uncompressed_bytes))
    return buffer.getvalue()


def typical(index: int = 0, attachment: bytes = PDF * 800) -> bytes:
    """A typical customer message (~80 KB): plain + HTML, one PDF attachment."""
    return crlf(f"""
From: Customer {index} <customer{index}@example.com>
To: support@hotline.test
Subject: Question about invoice {index}
Message-ID: <msg-{index}@example.com>
Date: Mon, 2 Mar 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="MIX"

--MIX
Content-Type: multipart/alternative; boundary="ALT"

--ALT
Content-Type: text/plain; charset=utf-8

Hello, my invoice {index} looks wrong; the scan is attached. Thanks.
--ALT
Content-Type: text/html; charset=utf-8

<p>Hello, my invoice <b>{index}</b> looks wrong; the scan is attached. Thanks.</p>
--ALT--
--MIX
Content-Type: application/pdf
Content-Disposition: attachment; filename="invoice-{index}.pdf"
Content-Transfer-Encoding: base64

{b64(attachment)}
--MIX--
""")
