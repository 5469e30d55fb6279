"""What several pages draw: the sidebar (sidebar), the kind, layer and head pickers of the
attention view (pickers) and the example gallery (gallery)."""
