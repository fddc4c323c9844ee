"""Context functions: what each page and partial of the UI shows."""
