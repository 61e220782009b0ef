"""The service raises its own open-file limit (issue 16, finding 7): at a 1,024 soft limit it
would fail before its own ``max_sessions: 1000``. Run in a child process: the limit is the
process's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hotline.descriptors import check_headroom, free_descriptors, open_descriptors

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, resource
from hotline.web_config import descriptor_headroom as _descriptor_headroom
from hotline.config import load_config
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
_descriptor_headroom(load_config("config", environ={}))
print(json.dumps([hard, resource.getrlimit(resource.RLIMIT_NOFILE)[0]]))
"""


def test_serving_raises_the_soft_open_file_limit_to_the_hard_one() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=True
    )
    hard, soft = json.loads(out.stdout)
    assert soft == min(hard, 1 << 20)


def test_a_limit_too_low_for_the_config_is_named_with_what_to_change() -> None:
    problem = check_headroom(10**9)
    assert problem is not None
    assert "max_sessions" in problem
    assert check_headroom(1) is None


def test_open_and_free_descriptors_are_counted() -> None:
    opened = open_descriptors()
    free = free_descriptors()
    assert opened is not None
    assert free is not None
    with open(__file__) as _:
        assert open_descriptors() == opened + 1
