"""The emulator's state machines, apart from HTTP (no Starlette here): jobs, result files,
the tailored-generation workflow and the ads listings. The HTTP side is in
:mod:`bria_dagster.emulator.handlers` and the server core."""
