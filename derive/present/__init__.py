"""What a reader sees: a `WorkedExample` turned into plain strings and numbers, then files."""
