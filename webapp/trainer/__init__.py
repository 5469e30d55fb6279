"""The Train page's background training, without Streamlit: its settings (settings), the recipe
they make (recipe), the server's training slots (slots), one session's run (session) and the
model card of a saved run (card)."""
