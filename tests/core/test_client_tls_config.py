"""A tls:// address without security= takes the TLS files from Dask's configuration (pods)."""

from __future__ import annotations

import dask
import pytest

from daskcloud.core.client import _security_from_config, connect
from daskcloud.exceptions import ConfigError


def test_tls_address_without_certificates_is_a_config_error():
    with pytest.raises(ConfigError, match="uses TLS"):
        connect("tls://127.0.0.1:1", timeout=1)


def test_tls_files_from_dask_config_make_a_security_object(tmp_path):
    files = {
        "distributed.comm.tls.ca-file": str(tmp_path / "ca.pem"),
        "distributed.comm.tls.client.cert": str(tmp_path / "worker.pem"),
        "distributed.comm.tls.client.key": str(tmp_path / "worker-key.pem"),
    }
    assert _security_from_config() is None
    with dask.config.set(files):
        security = _security_from_config()
    assert security is not None
    assert security.tls_ca_file == files["distributed.comm.tls.ca-file"]
    assert security.tls_client_cert == files["distributed.comm.tls.client.cert"]
