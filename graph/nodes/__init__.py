"""Graph nodes: small async functions with verb names, one module per part of the state machine."""
