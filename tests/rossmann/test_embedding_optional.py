"""The torch extra is optional: without it the embedding model says how to install it."""

from __future__ import annotations

import importlib

import pytest

from daskcloud.exceptions import ConfigError
from daskcloud.rossmann import embedding as emb


def test_missing_torch_is_a_config_error_with_the_install_command(monkeypatch):
    real = importlib.import_module

    def no_torch(name, *args, **kwargs):
        if name in ("torch", "skorch"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(emb.importlib, "import_module", no_torch)
    with pytest.raises(ConfigError, match=r"pip install 'daskcloud\[torch\]'"):
        emb.make_embedding_pipeline()
