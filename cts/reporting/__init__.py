"""From results to readers: figures, notebook helpers and the report builder."""
