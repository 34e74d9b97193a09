"""The report's figures, one module each. Every figure is a `matplotlib.figure.Figure` drawn
without pyplot, so no display, no global state, and nothing to close."""
