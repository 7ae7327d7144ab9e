"""Workload: a model spec as operators (GEMMs and vector ops) per encoder and component."""

from catransformers.workload.ops import COMPONENTS, Workload, WorkloadOptions, build_workload

__all__ = ["COMPONENTS", "Workload", "WorkloadOptions", "build_workload"]
