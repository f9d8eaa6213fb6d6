"""Benchmarks (``make bench``, i.e. ``python -m bench``; see ``bench/__main__.py`` and docs/performance.md).

Each suite is a module with ``run(ctx)``; a measurement that needs a fresh process runs as
``python -m bench.<suite> --worker JSON``. ``python -m bench.emulator_rate`` also runs alone.
"""
