"""Speed and quality benchmarks, run as scripts (`python benchmarks/model_speed.py`); a package so the tests can import them."""
