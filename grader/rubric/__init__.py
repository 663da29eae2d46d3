"""The rubric: the item table (items), its pytest runner and scoring (plugin, test_items), and the judges,
public (public/) and answer-holding (answers/)."""
