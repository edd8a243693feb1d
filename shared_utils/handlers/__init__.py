"""Lambda entry glue shared by handler modules: what turns an event into a call on the root."""
