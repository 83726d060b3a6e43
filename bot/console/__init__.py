"""Terminal adapter: the same conversation core, played in a terminal (`triagebot demo`)."""
