"""The root command: version, help, usage errors."""

from __future__ import annotations

import subprocess
import sys

from daskcloud import __version__
from daskcloud.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_option_is_a_usage_error_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "daskcloud.cli", "--no-such-option"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "No such option" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_public_api_is_exactly_what_is_intended():
    import daskcloud

    assert set(daskcloud.__all__) == {
        "ClusterError",
        "ConfigError",
        "DaskSearchCV",
        "DaskcloudError",
        "DataError",
        "JournalError",
        "KubernetesError",
        "SearchError",
        "__version__",
    }
