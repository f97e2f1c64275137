"""p8j benchmarks (pytest-benchmark); not part of the default test run. See bench/README.md."""
