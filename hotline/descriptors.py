"""The process's open-file descriptors: its limit, raised at start, and how many are free.

Every FastAGI call, AMI connection, database connection, web client and open file holds a
descriptor. At the limit ``accept()`` fails for every listening socket alike (EMFILE), so a
flood of web clients would also stop Asterisk's calls from reaching the service. The
service raises its soft limit to the hard one when it starts, and the web server stops
taking clients while fewer than its reserve are free (``hotline.web.connections``).
"""

from __future__ import annotations

import logging
import os
import resource

log = logging.getLogger(__name__)

_FD_DIRECTORIES = ("/proc/self/fd", "/dev/fd")


def open_file_limit() -> tuple[int, int]:
    """The soft and hard RLIMIT_NOFILE (``resource.RLIM_INFINITY`` as is)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def raise_open_file_limit(wanted: int | None = None) -> int:
    """Raise the soft limit toward the hard one (or to ``wanted`` if lower); returns the soft
    limit in force. A refusal by the system is logged and the limit left as it was."""
    soft, hard = open_file_limit()
    target = hard if wanted is None else wanted
    if hard != resource.RLIM_INFINITY:
        target = min(target, hard)
    if target == resource.RLIM_INFINITY:
        target = 1 << 20  # "unlimited" hard limits are refused as a soft value on Linux
    if target <= soft and soft != resource.RLIM_INFINITY:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as error:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, error)
        return soft
    log.info("open-file limit raised from %d to %d", soft, target)
    return target


def open_descriptors() -> int | None:
    """Descriptors open in this process now; None where the system does not say."""
    for directory in _FD_DIRECTORIES:
        try:
            # listdir holds one descriptor of its own while it reads.
            return max(len(os.listdir(directory)) - 1, 0)
        except FileNotFoundError:
            continue
    return None


def free_descriptors() -> int | None:
    """Descriptors this process may still open; None when the system does not say (or
    there is no limit). 0 when even listing them fails for want of one."""
    soft, _ = open_file_limit()
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        used = open_descriptors()
    except OSError:  # EMFILE while listing: none left
        return 0
    return None if used is None else soft - used


def check_headroom(needed: int) -> str | None:
    """Why ``needed`` descriptors may not fit under the soft limit (None when they fit)."""
    soft, hard = open_file_limit()
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    return (
        f"the open-file limit is {soft} (hard {hard}) but the configured calls, web clients "
        f"and reserve need about {needed}: raise it (ulimit -n, LimitNOFILE=) or lower "
        "fastagi.limits.max_sessions and web.limits.max_connections"
    )
