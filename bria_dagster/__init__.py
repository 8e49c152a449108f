"""bria_dagster: Bria's visual generation API as a typed client, an emulator and Dagster assets.

This top-level module stays light: importing ``bria_dagster.client`` must not import Dagster.
"""

from bria_dagster._version import __version__

__all__ = ["__version__"]
