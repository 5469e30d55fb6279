"""The page scripts, one per page of webapp/registry.py (Streamlit runs each by its path), and
beside two of them the modules only they use: comparison.py (compare.py) and sampling.py
(decoding.py). Not a folder called pages/ beside app.py: that would start Streamlit's legacy
multipage mode."""
