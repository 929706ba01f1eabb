"""Model backends: local weights, servers, recordings."""
