"""The trace-driven simulator: the placement core run over a cluster and a workload, offline."""
