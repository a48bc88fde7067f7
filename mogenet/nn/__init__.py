"""Neural modules: node encoders, experts, gates, towers and multi-task heads."""
