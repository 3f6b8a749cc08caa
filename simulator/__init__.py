"""Portal simulator: serves the national portal's real HTTP shapes on 127.0.0.1, with
synthetic, deterministic data and switchable fault modes (see simulator/README.md)."""

from simulator.faults import FaultPlan
from simulator.server import PortalSimulator

__all__ = ["FaultPlan", "PortalSimulator"]
