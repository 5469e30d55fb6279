"""The Streamlit app (`make run`; its entry is app.py at the repository's root), by job:

- registry.py: the pages (URL path, title, icon, script), read by app.py and the Lecture;
- pages/: the page scripts, one per page, and beside two of them the modules only they use
  (comparison.py for compare.py, sampling.py for decoding.py);
- state/: the shareable URL ⇄ session state, presentation mode, the checkpoints and the cached
  results the pages read, and the defaults a page opens on;
- widgets/: what several pages draw: the sidebar, the attention pickers, the example gallery;
- analysis/: the Analysis page's tabs;
- trainer/: the Train page's background training, without Streamlit;
- lecture.py: the Lecture page's file of steps, without Streamlit.

Every module says which session-state keys it owns or reads. Nothing here is imported by
transformer/ or figures/: the app reads the library, never the other way round.
"""
