"""Skill Boundary Detection: cut recordings into skills where action prediction suddenly fails."""

from mcagent.sbd.boundary import MODES, BoundaryRule, boundaries_of_losses, find_boundaries
from mcagent.sbd.segments import Segment, Segmentation, read_segmentation, write_segmentation

__all__ = ["MODES", "BoundaryRule", "Segment", "Segmentation", "boundaries_of_losses",
           "find_boundaries", "read_segmentation", "write_segmentation"]
