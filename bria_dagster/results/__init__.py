"""What a finished request becomes: its stored object and the record of it.

Free of Dagster, below both the assets (inline steps) and the sensors (deferred steps), which
store and describe results the same way through this package.
"""

from bria_dagster.results.records import METADATA_IMAGES, ImageRecord
from bria_dagster.results.storing import record_of_stored, store_entry

__all__ = ["METADATA_IMAGES", "ImageRecord", "record_of_stored", "store_entry"]
