"""Job kinds of the geo app (the divisions load is added by the loader work)."""
