"""Privacy: erasing a person's data, exporting it, and clearing old mentions' text."""
