"""What the app holds: the shareable URL ⇄ session state (url), presentation mode and the chart
wrapper that applies it (present), the checkpoints the app can show (checkpoints), the cached
translations (results) and the views a page opens on (defaults)."""
