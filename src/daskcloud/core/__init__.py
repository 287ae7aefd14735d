"""The neutral bottom layer every other layer may use, and that imports none of them.

============================  ==========================================================
:mod:`~daskcloud.core.units`  durations (``"20m"``) and Kubernetes-style quantities
                              (``"500m"`` cpu, ``"4Gi"`` memory)
:mod:`~daskcloud.core.files`  :func:`~daskcloud.core.files.atomic_write`: temp file, then
                              rename; a reader never sees half a file
:mod:`~daskcloud.core.versions`  client, scheduler and workers run the same versions
:mod:`~daskcloud.core.client`    a ``distributed.Client`` from ``None`` (an embedded local
                              cluster), an address, or a Client
============================  ==========================================================

Nothing here imports ``daskcloud.search``, ``daskcloud.cluster``, ``daskcloud.jobs``,
``daskcloud.report`` or ``daskcloud.rossmann``; heavy third-party modules
(``distributed``) are imported inside the functions that need them.
"""
