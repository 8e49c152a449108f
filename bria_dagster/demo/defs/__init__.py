"""The demo pipeline of ``definitions.py`` as a ``dg`` defs folder: ``catalog/defs.yaml``
declares the same steps with :class:`~bria_dagster.components.BriaAssetsComponent`
(``dg check defs`` / ``dg list defs`` from the repository root)."""
