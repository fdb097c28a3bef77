"""hcs_agent: skeleton only; see this package's README for what is coming."""

__version__ = "0.0.1"
__all__ = ["__version__"]
