"""Reference implementations and derivations for every problem of the handout (one module per concept)."""
