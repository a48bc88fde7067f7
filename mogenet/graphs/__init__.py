"""Graph builders: user–item bipartite graph and collaborative-similarity graphs."""
