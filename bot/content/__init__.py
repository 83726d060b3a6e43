"""FAQ content: the entry model, the markdown loader and the linter."""
