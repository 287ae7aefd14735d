"""rossmann."""
