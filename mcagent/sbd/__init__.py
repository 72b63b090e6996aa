"""Skill Boundary Detection: cut recordings into skills where action prediction suddenly fails."""

from mcagent.sbd.boundary import (MODES, RULE_MODES, BoundaryRule, boundaries_of_losses,
                                  find_boundaries, peak_boundaries)
from mcagent.sbd.segments import Segment, Segmentation, read_segmentation, write_segmentation

__all__ = ["MODES", "RULE_MODES", "BoundaryRule", "Segment", "Segmentation",
           "boundaries_of_losses", "find_boundaries", "peak_boundaries", "read_segmentation",
           "write_segmentation"]
