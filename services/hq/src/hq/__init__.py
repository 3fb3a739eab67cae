"""hq: the composed Trellis service. Its settings and URLs come from installed plugins."""
