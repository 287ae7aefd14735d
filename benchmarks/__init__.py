"""Side-by-side benchmarks of daskcloud against its peers; they report, they never assert.

Run ``python -m benchmarks [NAME ...] [--quick|--full]`` (``make bench`` runs the
quick mode of all). Results go to ``benchmarks/results/<name>.json``; the
tables and how to read them are in ``docs/benchmarks.md``.
"""
