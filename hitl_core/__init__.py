"""hitl: a human-in-the-loop anomaly-detection workbench (the core; never imports streamlit)."""

from hitl_core.errors import Busy, HitlError, IntegrityError, InvalidInput, NotReady
from hitl_core.workspace import Workspace

__all__ = ["Busy", "HitlError", "IntegrityError", "InvalidInput", "NotReady", "Workspace"]
__version__ = "0.1.0"
